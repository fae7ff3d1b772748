"""Shared helpers for report tests: picture checks and CSV reading; tiny models come from the task tests' fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tests.offline import offline_single_thread  # noqa: F401 - autouse: offline, one thread


def is_picture(path: Path) -> bool:
    """A picture that is not blank. A PNG: it opens and its pixels vary. An SVG: well-formed XML whose root is
    ``<svg>`` with a size, holding drawn marks (a line or point of a curve, or a coloured cell) and text."""
    if path.suffix == ".svg":
        import xml.etree.ElementTree as ElementTree

        root = ElementTree.parse(path).getroot()
        tags = [element.tag.rsplit("}", 1)[-1] for element in root.iter()]
        coloured = [e for e in root.iter() if e.tag.endswith("rect") and e.get("fill") not in (None, "#fff", "none")]
        marks = tags.count("polyline") + tags.count("circle") + len(coloured)
        return root.tag.endswith("svg") and float(root.get("width", 0)) > 0 and marks > 0 and "text" in tags
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=float)
    return array.size > 0 and array.std() > 1.0


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
