"""examples/semantic_segmentation.py runs in quick mode, in a subprocess, as a user runs it (tests/test_examples.py
lists the other tasks' examples; this task's test lives with the task)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_example_runs_and_draws_the_masks(tmp_path):
    env = {**os.environ, "FLASH_QUICK": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "semantic_segmentation.py")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    assert "mask of new/images/0000.png: 160x224 pixels" in result.stdout
    assert "masks drawn into masks/0000_mask.png, masks/0000_overlay.png" in result.stdout
    assert (tmp_path / "masks" / "0000_overlay.png").is_file()
