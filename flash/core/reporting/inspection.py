"""What a task's ``inspect`` adapter gives ``flash data inspect``: the items of a split, and one file's measurements.

``flash data inspect`` (``flash.reports.inspect``) asks the task's adapter, an :class:`InspectAdapter` or any
object with the same attributes, to read each split as the detected ``from_*`` constructor would (``read``) and
to measure each file (``measure_bytes``, from the bytes inspect read once and also hashed; or ``measure``, which
reads the file itself); it does the counting, the checks and the page itself. The readers of class folders and
tables here are the ones several tasks share; class folders are walked lazily (one folder listed at a time), so
100k files are never held as a list. Standard library only (pandas for Parquet).

Example:
    >>> adapter = InspectAdapter(read=lambda split, constructor, kwargs: ([Item(split, text="hi", label="a")], []))
    >>> adapter.read("train", "from_csv", {})[0][0].label, adapter.labels
    ('a', 'classes')
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal


@dataclass
class Item:
    """One sample as read from disk.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        path: its file, if it is one (then it is measured): a ``Path`` or a ``str`` (what a walk of 100k files
            yields, without a ``Path`` per file); None for a text.
        label: a class name, a list of names (multi-label, or one per box), or a transcript.
        text: the text itself, for tasks whose inputs are texts.
        boxes: ``[[x1, y1, x2, y2], ...]`` in pixels, one per name in ``label``, for tasks with boxes.
        row: where it was read: the table's row number (as an editor shows it), for naming it in findings.
    """

    split: str
    path: str | os.PathLike | None = None
    label: Any = None
    text: str | None = None
    boxes: list[list[float]] | None = None
    row: int | None = None


@dataclass
class Measurement:
    """What measuring one file found.

    Args:
        measures: ``{name: [values]}``: numbers or ``(width, height)`` pairs for the histograms, e.g.
            ``{"image sizes": [(640, 480)]}``.
        tallies: ``{name: [keys]}`` counted, e.g. ``{"image modes": ["RGB"]}``.
        problems: ``{what: [examples]}``: problems that do not stop training, gathered over all files into one
            warning per ``what`` (``"<count> <what>: <first 3 examples>."``), in the order first seen.
    """

    measures: dict[str, list] = field(default_factory=dict)
    tallies: dict[str, list] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)


#: ``read(split, constructor, kwargs) -> (items, errors)``; see :class:`InspectAdapter`. ``items`` may be lazy.
Reader = Callable[[str, str, Mapping[str, Any]], "tuple[Iterable[Item], list[str]]"]


@dataclass(frozen=True)
class InspectAdapter:
    """A task's ``inspect`` adapter (ARCHITECTURE.md, "Adding a task").

    Args:
        read: ``read(split, constructor, kwargs) -> (items, errors)``: the split's items as ``constructor``
            (``"from_folders"``, ``"from_csv"``, ...; what the task's ``detect`` returned) reads them from
            ``kwargs`` (the ``train_*`` arguments ``detect`` returned), and one message per sample it had to skip.
            Raises ``flash.errors.DataError`` when the split cannot be read at all.
        measure: ``measure(item) -> Measurement`` for an item whose file exists; raises ``DataError`` (the
            message names the file and the fix) when the file cannot be read. None: inputs are not files (or
            ``measure_bytes`` is given: then it is ``measure_bytes`` on the file's bytes).
        measure_bytes: ``measure_bytes(item, data) -> Measurement``: the same from the file's bytes, which
            ``flash data inspect`` reads once per file and also hashes (one read per file instead of two or three).
            Preferred to ``measure`` when given.
        labels: ``"classes"`` (one class per item), ``"multi-labels"`` (a list per item, e.g. one per box) or
            ``"transcripts"`` (free text: counted per split, not per class).
        counted: the word for what a class count counts, in the imbalance warning (``"examples"``, ``"boxes"``).
        same_input: how one input given twice inside a split is found: ``"content"`` (the same file bytes or
            text, under any name: the default) or ``"path"`` (the same file listed twice: for annotation formats
            where distinct files may share their pixels, e.g. blank or synthetic scenes).
    """

    read: Reader
    measure: Callable[[Item], Measurement] | None = None
    labels: Literal["classes", "multi-labels", "transcripts"] = "classes"
    counted: str = "examples"
    same_input: Literal["content", "path"] = "content"
    measure_bytes: Callable[[Item, bytes], Measurement] | None = None

    def __post_init__(self) -> None:
        if self.measure is None and self.measure_bytes is not None:
            object.__setattr__(self, "measure", partial(_measure_file, self.measure_bytes))


def _measure_file(measure_bytes: Callable[[Item, bytes], Measurement], item: Item) -> Measurement:
    return measure_bytes(item, Path(str(item.path)).read_bytes())


def read_class_folders(split: str, folder: Path, *, accept: Callable[[str], bool]) -> Iterator[Item]:
    """One item per accepted file under each class folder of ``folder`` (hidden folders skipped), labelled by it.

    The class folders are listed now (a missing ``folder`` raises here); their files are walked as the items are
    taken, in sorted order, one folder's listing in memory at a time; each item's ``path`` is a ``str``.
    """
    classes = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    return _class_items(split, classes, accept)


def _class_items(split: str, classes: list[Path], accept: Callable[[str], bool]) -> Iterator[Item]:
    for folder in classes:
        label = folder.name
        for file in walk_files(str(folder)):
            if accept(file):
                yield Item(split, path=file, label=label)


def walk_files(folder: str) -> Iterator[str]:
    """Every file under ``folder``, recursively, sorted as ``sorted(Path(folder).rglob("*"))`` sorts them; lazy.

    ``os.scandir`` tells files from folders without a ``stat`` per file on most file systems.
    """
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk_files(entry.path)
        elif entry.is_file():
            yield entry.path


def read_table_items(split: str, kwargs: Mapping[str, Any], *,
                     root_key: str | None = None) -> tuple[list[Item], list[str]]:
    """The rows of ``kwargs["train_file"]`` as items: files under ``kwargs[root_key]`` when that is set, else texts.

    Rows with an empty input or target are skipped, each with an error message naming the row.
    """
    path, input_field, target = Path(kwargs["train_file"]), kwargs["input_field"], kwargs["target_fields"]
    root = (kwargs.get(root_key) or None) if root_key else None
    items, errors = [], []
    for number, row in enumerate(table_rows(path), start=2 if path.suffix.lower() == ".csv" else 0):
        value, label = row.get(input_field), row.get(target)
        if value in (None, "") or label in (None, ""):
            column = input_field if value in (None, "") else target
            errors.append(f"'{path}' row {number} has an empty {column!r}. Fill it in or remove the row. "
                          f"Received: {row!r}")
            continue
        if root is not None:
            items.append(Item(split, path=Path(root) / str(value), label=str(label), row=number))
        else:
            items.append(Item(split, label=str(label), text=str(value), row=number))
    return items, errors


def table_rows(path: Path) -> list[dict]:
    """Every row of a CSV, JSON (a list, or ``{"data": [...]}``), JSON lines or Parquet file, as dicts."""
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
