"""Shared helpers for report tests: PNG checks and CSV reading; tiny models come from the task tests' fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch


def is_picture(path: Path) -> bool:
    """A PNG that is not blank: it opens and its pixels vary."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=float)
    return array.size > 0 and array.std() > 1.0


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch, tmp_path_factory):
    """Tiny models run fastest on one thread; no hub access."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf_home"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
