"""Recognising data on disk, for ``flash train <task> --data PATH``: the pieces every task's ``detect`` shares.

A task's entry says what its data looks like (class folders, a COCO file, a table of file paths); these
helpers peek at tables and folders without reading them whole and build the ``Detected`` answer.
Standard library only (pandas for Parquet), so entries that use them stay torch-free.

Example:
    >>> import pathlib, tempfile
    >>> table = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
    >>> _ = table.write_text("text_id,review,label\\n1,a long enough review,pos\\n2,another long review,neg\\n")
    >>> detect_table(table, input_ext=(), val_split=0.2).kwargs["input_field"]
    'review'
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from flash.core.entry import Detected
from flash.errors import DataError

TABLE_EXT = (".csv", ".json", ".jsonl", ".parquet")
TARGET_NAMES = ("label", "labels", "target", "targets", "class", "category", "y", "text", "transcript", "sentence")


def columns_and_rows(path: Path, *, limit: int = 50) -> tuple[list[str], list[dict]]:
    """The column names of the table at ``path`` and its first ``limit`` rows (CSV, JSON, JSON lines, Parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [row for _, row in zip(range(limit), reader)]
            return list(reader.fieldnames or []), rows
    if suffix == ".jsonl":
        with open(path, encoding="utf-8-sig") as handle:
            rows = [json.loads(line) for _, line in zip(range(limit), handle) if line.strip()]
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        rows = data if isinstance(data, list) else data.get("data", []) if isinstance(data, dict) else []
        rows = rows[:limit]
    else:  # parquet
        import pandas as pd

        frame = pd.read_parquet(path)
        return list(frame.columns), frame.head(limit).to_dict("records")
    columns = list(rows[0]) if rows and isinstance(rows[0], dict) else []
    return columns, rows


def pick_columns(columns: list[str], rows: list[dict], *, input_ext: tuple[str, ...], path: Path) -> tuple[str, str]:
    """``(input column, target column)``: the column of ``input_ext`` files (or of the longest texts when
    ``input_ext`` is empty), and a column with a usual target name (else the first other one)."""
    if len(columns) < 2:
        raise DataError(f"'{path}' needs an input column and a target column; found columns {columns}. "
                        "Name them with --data.input_field and --data.target_fields.")
    if input_ext:
        matches = [c for c in columns if rows and all(str(r.get(c, "")).lower().endswith(input_ext) for r in rows)]
        input_field = matches[0] if matches else None
    else:  # text: the column with the longest strings
        lengths = {c: sum(len(str(r.get(c, ""))) for r in rows) for c in columns}
        input_field = max(columns, key=lambda c: lengths[c])
    if input_field is None:
        raise DataError(f"Cannot tell which column of '{path}' holds the input files ({', '.join(input_ext)}); "
                        f"columns: {columns}. Pass --data.input_field NAME.")
    others = [c for c in columns if c != input_field]
    named = [c for c in others if c.lower() in TARGET_NAMES]
    return input_field, (named or others)[0]


def is_table(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in TABLE_EXT


def first_table(folder: Path) -> Path | None:
    """The first table file (by name) directly inside ``folder``, if any."""
    tables = sorted(p for p in folder.iterdir() if p.suffix.lower() in TABLE_EXT)
    return tables[0] if tables else None


def detect_table(path: Path, *, input_ext: tuple[str, ...], val_split: float,
                 root_key: str | None = None) -> Detected | None:
    """A table of inputs and targets at ``path`` (or the first one in the folder ``path``) -> ``from_csv`` /
    ``from_json`` / ``from_parquet``. ``input_ext`` are the suffixes of the input files (empty for texts);
    ``root_key`` names the argument that resolves relative file paths against the table's folder."""
    table = first_table(path) if path.is_dir() else path if is_table(path) else None
    if table is None:
        return None
    suffix = table.suffix.lower()
    fmt = "csv" if suffix == ".csv" else "json" if suffix in (".json", ".jsonl") else "parquet"
    columns, rows = columns_and_rows(table)
    input_field, target = pick_columns(columns, rows, input_ext=input_ext, path=table)
    kwargs: dict[str, Any] = {"input_field": input_field, "target_fields": target, "train_file": str(table),
                              "val_split": val_split}
    if root_key:
        kwargs[root_key] = str(table.parent)
    return Detected(f"from_{fmt}", kwargs,
                    f"a {fmt.upper()} table: input column {input_field!r}, target column {target!r}")


def class_folders(path: Path, *, extensions: tuple[str, ...]) -> list[str]:
    """The names of the sub-folders of ``path`` when they hold files with ``extensions`` (a class per folder)."""
    if not path.is_dir():
        return []
    subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if not any(f.suffix.lower() in extensions for d in subdirs for f in d.iterdir()):
        return []
    return sorted(d.name for d in subdirs)
