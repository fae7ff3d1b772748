"""Helpers for running the `flash` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TINY = ["--model.backbone", "test_resnet", "--model.pretrained", "false"]


def run_flash(*args: str, cwd: Path, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "flash", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def write_class_folders(root: Path, per_class: int = 6, size: int = 20) -> Path:
    from PIL import Image

    colors = {"red": (230, 30, 20), "blue": (20, 40, 230)}
    rng = np.random.default_rng(0)
    for name, color in colors.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.integers(-30, 30, (size, size, 3))
            Image.fromarray(np.clip(np.array(color) + noise, 0, 255).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A tiny image classifier trained by `flash train --data <class folders>` (shared by the CLI tests)."""
    root = tmp_path_factory.mktemp("cli_train")
    write_class_folders(root / "data")
    result = run_flash("train", "image_classification", "--data", "data", *TINY, "--trainer.max_epochs", "2",
                       "--data.batch_size", "4", "--data.transform_kwargs", "{image_size: [32, 32]}",
                       "--checkpoint", "model.pt", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "model.pt"
