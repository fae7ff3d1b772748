"""``flash train <task> --data PATH``: look at what is at PATH and pick the right ``from_*``.

Returns the constructor's name and its arguments, plus one sentence saying what was detected.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from flash.errors import DataError

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3")
TABLE_EXT = (".csv", ".json", ".jsonl", ".parquet")
TARGET_NAMES = ("label", "labels", "target", "targets", "class", "category", "y", "text", "transcript", "sentence")


def _columns_and_rows(path: Path, limit: int = 50) -> tuple[list[str], list[dict]]:
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


def _pick(columns: list[str], rows: list[dict], *, input_ext: tuple[str, ...] | None, path: Path) -> tuple[str, str]:
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
        raise DataError(f"Cannot tell which column of '{path}' holds the input files ({', '.join(input_ext or ())}); "
                        f"columns: {columns}. Pass --data.input_field NAME.")
    others = [c for c in columns if c != input_field]
    named = [c for c in others if c.lower() in TARGET_NAMES]
    return input_field, (named or others)[0]


def _has_class_folders(path: Path) -> bool:
    subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return bool(subdirs) and any(f.suffix.lower() in IMAGE_EXT for d in subdirs for f in d.iterdir())


def detect(task: str, path: str | Path, *, val_split: float = 0.2) -> tuple[str, dict[str, Any], str]:
    """``(constructor, kwargs, description)`` for ``task`` and the data at ``path``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"--data {str(path)!r} does not exist. Give a folder or a CSV/JSON/Parquet file.")
    common = {"val_split": val_split}
    if path.is_file() and path.suffix.lower() in TABLE_EXT:
        if task == "object_detection" and path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict) and {"images", "annotations"} <= set(data):
                return "from_coco", {"train_folder": str(path.parent), "train_ann_file": str(path), **common}, \
                    f"a COCO annotation file with {len(data['images'])} images (images looked up next to it)"
        fmt = "csv" if path.suffix.lower() == ".csv" else "json" if path.suffix.lower() in (".json", ".jsonl") else "parquet"
        columns, rows = _columns_and_rows(path)
        ext = {"image_classification": IMAGE_EXT, "speech_recognition": AUDIO_EXT}.get(task)
        input_field, target = _pick(columns, rows, input_ext=ext, path=path)
        kwargs = {"input_field": input_field, "target_fields": target, "train_file": str(path), **common}
        if ext is not None:
            root_key = "train_images_root" if task == "image_classification" else "train_audio_root"
            kwargs[root_key] = str(path.parent)
        return f"from_{fmt}", kwargs, f"a {fmt.upper()} table: input column {input_field!r}, target column {target!r}"
    if path.is_dir():
        if task == "image_classification" and _has_class_folders(path):
            classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
            return "from_folders", {"train_folder": str(path), **common}, \
                f"a folder of {len(classes)} class folders ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})"
        if task == "object_detection":
            xmls = list(path.rglob("*.xml"))
            if xmls:
                return "from_voc", {"train_folder": str(path), "train_ann_folder": str(xmls[0].parent), **common}, \
                    f"a Pascal VOC folder with {len(xmls)} annotation files"
            coco = [p for p in path.glob("*.json")]
            if coco:
                return detect(task, coco[0], val_split=val_split)
        tables = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_EXT)
        if tables:
            return detect(task, tables[0], val_split=val_split)
    raise DataError(
        f"Cannot tell what kind of {task} data '{path}' holds. Expected: "
        + {"image_classification": "a folder of class folders, or a CSV/JSON/Parquet file of image paths and labels",
           "object_detection": "a COCO json file, or a Pascal VOC folder with .xml annotations",
           "text_classification": "a CSV/JSON/JSONL/Parquet file of texts and labels",
           "speech_recognition": "a CSV/JSON file of audio paths and transcripts (or a folder holding one)"}.get(task, "data")
        + ". Or call the from_* constructor with --data.* flags."
    )
