"""``flash data inspect``: what a data set is and what is wrong with it, before training.

:func:`read_split` turns one split (as a ``from_*`` constructor would read it) into :class:`Item` s;
:func:`inspect_data` measures them (counts per class, image sizes and modes, audio durations and
rates, text lengths, boxes) and lists :class:`Finding` s. Errors are what would stop training.

Example:
    >>> items = {"train": [Item("train", label="cat", text="a cat"), Item("train", label="dog", text="a dog")]}
    >>> inspect_data("image_classification", items).errors
    []
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

IMBALANCE = 10.0  # largest / smallest class count above this: a warning
FEW = 5  # classes with fewer training examples: a warning
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val",
               "test": "test"}


@dataclass
class Item:
    """One sample: its split, file (if any), label(s), text, and boxes ``[[x1, y1, x2, y2], ...]``."""

    split: str
    path: Path | None = None
    label: Any = None
    text: str | None = None
    boxes: list[list[float]] | None = None


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    message: str


@dataclass
class Inspection:
    """What :func:`inspect_data` found: counts, measurements for the histograms, and findings."""

    task: str
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> label -> count
    measures: dict[str, list] = field(default_factory=dict)  # "image sizes", "durations (s)", ...
    tallies: dict[str, Counter] = field(default_factory=dict)  # "image modes", "sample rates (Hz)", ...
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "warning"]

    def add(self, level: Literal["error", "warning"], message: str) -> None:
        self.findings.append(Finding(level, message))


def split_paths(path: str | os.PathLike) -> dict[str, Path]:
    """``{split: path}``: sub-folders or files named train/val/test (and synonyms), else ``{"train": path}``."""
    path = Path(path)
    if path.is_dir():
        found = {SPLIT_NAMES[p.stem.lower()]: p for p in sorted(path.iterdir()) if p.stem.lower() in SPLIT_NAMES}
        if "train" in found:
            return found
    return {"train": path}


# ------------------------------------------------------------------------------------------ reading
def read_split(split: str, constructor: str, kwargs: dict[str, Any]) -> tuple[list[Item], list[Finding]]:
    """The items of one split as ``constructor`` (``from_folders``, ``from_csv``, ``from_coco``, ...) reads them.

    ``kwargs`` are the constructor's ``train_*`` arguments as ``flash train --data`` detects them.
    """
    from flash.errors import DataError

    try:
        if constructor == "from_folders":
            return _read_folders(split, Path(kwargs["train_folder"])), []
        if constructor == "from_coco":
            return _read_coco(split, Path(kwargs["train_folder"]), Path(kwargs["train_ann_file"])), []
        if constructor == "from_voc":
            return _read_voc(split, Path(kwargs["train_folder"]), Path(kwargs["train_ann_folder"]))
        return _read_table(split, Path(kwargs["train_file"]), kwargs)
    except DataError as err:
        return [], [Finding("error", str(err))]


def _read_folders(split: str, folder: Path) -> list[Item]:
    from flash.image.io import is_image_file

    classes = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    return [Item(split, path=f, label=d.name) for d in classes for f in sorted(d.rglob("*"))
            if f.is_file() and is_image_file(f)]


def _read_coco(split: str, folder: Path, ann_file: Path) -> list[Item]:
    from flash.image.detection.coco import read_coco

    data = read_coco(ann_file)
    names = {c["id"]: c["name"] for c in data["categories"]}
    items = {image["id"]: Item(split, path=folder / image["file_name"], label=[], boxes=[]) for image in data["images"]}
    for ann in data["annotations"]:
        item = items.get(ann["image_id"])
        if item is not None:
            x, y, w, h = ann["bbox"]
            item.boxes.append([x, y, x + w, y + h])
            item.label.append(names.get(ann["category_id"], str(ann["category_id"])))
    return list(items.values())


def _read_voc(split: str, folder: Path, ann_folder: Path) -> tuple[list[Item], list[Finding]]:
    from flash.errors import DataError
    from flash.image.detection.voc import read_voc

    items, findings = [], []
    for xml in sorted(ann_folder.rglob("*.xml")):
        try:
            filename, boxes, names = read_voc(xml)
        except DataError as err:
            findings.append(Finding("error", str(err)))
            continue
        items.append(Item(split, path=folder / filename, label=names, boxes=boxes))
    return items, findings


def _read_table(split: str, path: Path, kwargs: dict[str, Any]) -> tuple[list[Item], list[Finding]]:
    input_field, target = kwargs["input_field"], kwargs["target_fields"]
    root = kwargs.get("train_images_root") or kwargs.get("train_audio_root")
    rows = _rows(path)
    items, findings = [], []
    for number, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 0):
        value, label = row.get(input_field), row.get(target)
        if value in (None, "") or label in (None, ""):
            column = input_field if value in (None, "") else target
            findings.append(Finding("error", f"'{path}' row {number} has an empty {column!r}. Fill it in or remove "
                                             f"the row. Received: {row!r}"))
            continue
        if root is not None:
            items.append(Item(split, path=Path(root) / str(value), label=str(label)))
        else:
            items.append(Item(split, label=str(label), text=str(value)))
    return items, findings


def _rows(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        return data if isinstance(data, list) else data.get("data", [])
    import pandas as pd

    return pd.read_parquet(path).to_dict("records")


# ------------------------------------------------------------------------------------------ checking
def inspect_data(task: str, items: dict[str, list[Item]], *, tokenizer: Callable[[str], list] | None = None,
                 findings: Sequence[Finding] = ()) -> Inspection:
    """Measure ``items`` (``{split: [Item]}``) for ``task`` and list what is wrong; see the module docstring."""
    from flash.reports.inspect_checks import check_files, check_labels

    result = Inspection(task, findings=list(findings))
    if not any(items.values()):
        result.add("error", "No samples found. Check the path, the file format and the column names.")
        return result
    check_labels(result, items, multi=task == "object_detection" or task == "speech_recognition")
    check_files(result, items, tokenizer=tokenizer)
    return result


def content_hash(item: Item) -> str | None:
    """SHA-1 of the file's bytes (or of the text), to find exact duplicates."""
    if item.path is not None:
        try:
            return hashlib.sha1(item.path.read_bytes()).hexdigest()
        except OSError:
            return None
    return hashlib.sha1(item.text.encode("utf-8")).hexdigest() if item.text is not None else None
