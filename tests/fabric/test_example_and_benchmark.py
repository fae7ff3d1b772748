"""The fabric example and benchmark run as a user would run them (quick mode, a subprocess each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "FLASH_QUICK": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    return result.stdout


@pytest.mark.slow
def test_fabric_example_trains_evaluates_and_checkpoints(tmp_path):
    out = _run([sys.executable, str(ROOT / "examples" / "fabric_image_classifier.py")], tmp_path)
    assert "step 5: loss" in out and "validation accuracy" in out and "(world size 1)" in out
    assert "saved and reloaded at step 5" in out and (tmp_path / "fabric_checkpoint.ckpt").is_file()


def test_fabric_overhead_quick_run_gives_equal_weights(tmp_path):
    """Not a timing test: the benchmark runs and both loops compute the same weights."""
    out = _run([sys.executable, str(ROOT / "benchmarks" / "fabric_overhead.py"), "--quick"], tmp_path)
    assert "flash.fabric weights equal plain: True" in out
    assert "flash.fabric ratio:" in out and "plain ms/step:" in out
