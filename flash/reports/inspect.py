"""``flash data inspect``: what a data set is and what is wrong with it, before training.

:func:`read_split` turns one split (as a ``from_*`` constructor would read it) into ``Item`` s through the task's
``inspect`` adapter; :func:`inspect_data` measures them (counts per class, what the adapter measures of each file,
text lengths) and lists :class:`Finding` s. Errors are what would stop training. Items are streamed: each file is
read once and only columns of names, labels and content hashes are kept (``flash.reports.inspect_checks``).

Example:
    >>> from flash.tasks import ENTRIES
    >>> items = {"train": [Item("train", label="cat", text="a cat"), Item("train", label="dog", text="a dog")]}
    >>> inspect_data(ENTRIES[0].name, items).errors
    []
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flash.core.entry import TaskEntry
from flash.core.reporting.inspection import Item
from flash.errors import DataError
from flash.reports.inspect_checks import Progress, check_duplicates, scan
from flash.reports.inspection import FEW, IMBALANCE, Finding, Inspection, content_hash

__all__ = ["FEW", "IMBALANCE", "Finding", "Inspection", "Item", "content_hash", "inspect_data", "read_split",
           "split_paths"]

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val",
               "test": "test"}


def split_paths(path: str | os.PathLike) -> dict[str, Path]:
    """``{split: path}``: sub-folders or files named train/val/test (and synonyms), else ``{"train": path}``."""
    path = Path(path)
    if path.is_dir():
        found = {SPLIT_NAMES[p.stem.lower()]: p for p in sorted(path.iterdir()) if p.stem.lower() in SPLIT_NAMES}
        if "train" in found:
            return found
    return {"train": path}


def read_split(split: str, constructor: str, kwargs: dict[str, Any], *,
               task: str | TaskEntry | None = None) -> tuple[Iterable[Item], list[Finding]]:
    """The items of one split as ``constructor`` (``from_folders``, ``from_csv``, ...) reads them, and the problems.

    The items may be lazy (a folder is walked as they are taken): iterate them once.

    ``kwargs`` are the constructor's ``train_*`` arguments as the task's ``detect`` found them. ``task`` (an entry
    or its name) says whose ``inspect`` adapter reads them; without it, the task whose ``detect`` returns exactly
    ``constructor`` and ``kwargs`` for the same path.
    """
    entry = _entry(task) if task is not None else _detecting_entry(constructor, kwargs)
    try:
        items, errors = entry.adapter("inspect").read(split, constructor, kwargs)
    except DataError as err:
        return [], [Finding("error", str(err))]
    return items, [Finding("error", message) for message in errors]


def inspect_data(task: str | TaskEntry, items: Mapping[str, Iterable[Item]], *,
                 tokenizer: Callable[[str], list] | None = None, findings: Sequence[Finding] = (),
                 progress: Progress | None = None) -> Inspection:
    """Measure ``items`` (``{split: items}``, lists or one-pass iterators) for ``task`` and list what is wrong.

    ``progress(n)`` is called as samples are read, ``n`` at a time (a progress bar's ``update``). See the module
    docstring.
    """
    entry = _entry(task)
    adapter = entry.adapter("inspect")
    result = Inspection(entry.name, findings=list(findings))
    seen, total = scan(result, items, adapter=adapter, tokenizer=tokenizer, progress=progress)
    if not total:
        result = Inspection(entry.name, findings=list(findings))
        result.add("error", "No samples found. Check the path, the file format and the column names.")
        return result
    check_duplicates(result, seen, same_input=getattr(adapter, "same_input", "content"))
    return result


def _entry(task: str | TaskEntry) -> TaskEntry:
    from flash.tasks import get_task

    return task if isinstance(task, TaskEntry) else get_task(task)


def _detecting_entry(constructor: str, kwargs: Mapping[str, Any]) -> TaskEntry:
    from flash.tasks import ENTRIES

    path = kwargs.get("train_ann_file") or kwargs.get("train_file") or kwargs.get("train_folder")
    for entry in sorted(ENTRIES, key=lambda entry: not entry.file_extensions()):  # file tasks before texts
        try:
            detected = entry.recognise(path, val_split=kwargs.get("val_split", 0.0)) if path else None
        except DataError:
            continue
        if detected is not None and detected.constructor == constructor and detected.kwargs == dict(kwargs):
            return entry
    raise DataError(f"No task reads {constructor}({kwargs}) for `flash data inspect`: name the task. "
                    f"Received: constructor={constructor!r}, kwargs={dict(kwargs)!r}")
