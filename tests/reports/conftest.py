"""Shared helpers for report tests: PNG checks and CSV reading; tiny models come from the task tests' fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tests.offline import offline_single_thread  # noqa: F401 - autouse: offline, one thread


def is_picture(path: Path) -> bool:
    """A PNG that is not blank: it opens and its pixels vary."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=float)
    return array.size > 0 and array.std() > 1.0


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
