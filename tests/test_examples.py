"""Every example runs, in quick mode, in a subprocess, as a user would run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {**os.environ, "FLASH_QUICK": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _run(command, cwd, timeout=600):
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    return result.stdout


@pytest.mark.parametrize("script, expected", [
    ("image_classification.py", "saved and reloaded"),
    ("text_classification.py", "validation:"),
    ("speech_recognition.py", "transcript:"),
    ("object_detection.py", "boxes drawn into detections.png"),
    ("mixed_precision.py", "bf16-mixed validation accuracy"),
])
@pytest.mark.slow
def test_example_runs(script, expected, tmp_path):
    out = _run([sys.executable, str(EXAMPLES / script)], tmp_path)
    assert expected in out


@pytest.mark.slow
def test_ddp_example_started_by_flash(tmp_path):
    out = _run([sys.executable, str(EXAMPLES / "ddp_torchrun.py"), "--devices", "2"], tmp_path)
    assert "world size 2" in out


@pytest.mark.slow
def test_ddp_example_started_by_torchrun(tmp_path):
    out = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                str(EXAMPLES / "ddp_torchrun.py")], tmp_path)
    assert "world size 2" in out


@pytest.mark.slow
def test_cli_walkthrough(tmp_path):
    bin_dir = str(Path(sys.executable).parent)
    env_path = f"{bin_dir}{os.pathsep}{ENV['PATH']}"
    result = subprocess.run(
        ["bash", str(EXAMPLES / "cli_walkthrough.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**ENV, "PATH": env_path},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "digit_0_true_0.png" in result.stdout and "Wrote 5 predictions" in result.stdout
    assert "Exported image_classification model" in result.stdout
