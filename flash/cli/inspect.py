"""``flash data inspect PATH [--task TASK] [--report DIR]``: what the data is and what is wrong with it.

Exit status 0 when training could start, 1 when a problem would stop it (so it can gate a pipeline).

Example::

    flash data inspect data/ --task image_classification --report inspect_report/
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flash.cli.detect import AUDIO_EXT, IMAGE_EXT, TABLE_EXT, _columns_and_rows, _has_class_folders, detect
from flash.cli.tasks import get_task


def guess_task(path: Path) -> str:
    """The task whose data ``path`` (a split's folder or file) looks like."""
    if path.is_dir():
        if any(path.rglob("*.xml")) or any(_is_coco(p) for p in path.glob("*.json")):
            return "object_detection"
        if _has_class_folders(path):
            return "image_classification"
        tables = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_EXT)
        return guess_task(tables[0]) if tables else "image_classification"
    if _is_coco(path):
        return "object_detection"
    _, rows = _columns_and_rows(path)
    values = [str(v).lower() for row in rows for v in (row.values() if isinstance(row, dict) else ())]
    if any(v.endswith(AUDIO_EXT) for v in values):
        return "speech_recognition"
    if any(v.endswith(IMAGE_EXT) for v in values):
        return "image_classification"
    return "text_classification"


def _is_coco(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"images", "annotations"} <= set(data)


def _tokenizer(name: str | None) -> Callable[[str], list] | None:
    if not name:
        return None
    from flash.errors import require

    transformers = require("transformers", "text", purpose="counting tokens")
    tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    return lambda text: tokenizer(text)["input_ids"]


def run_inspect(args: Any, extra: list[str]) -> int:
    """Inspect ``args.path``; print the summary; write ``--report``; 1 when training would fail."""
    from flash.errors import DataError
    from flash.reports.inspect import inspect_data, read_split, split_paths
    from flash.reports.inspect_view import summary_text, write_inspection_page

    path = Path(args.path)
    if not path.exists():
        raise DataError(f"'{path}' does not exist. Give a data folder or file. Received: path={args.path!r}")
    splits = split_paths(path)
    task = get_task(args.task).name if args.task else guess_task(splits["train"])
    items, findings, described = {}, [], []
    for split, split_path in splits.items():
        constructor, kwargs, description = detect(task, split_path)
        items[split], problems = read_split(split, constructor, kwargs)
        findings += problems
        described.append(f"{split}: '{split_path}' ({description})")
    data_class = get_task(task).data.rpartition(":")[2]
    description = (f"{task} data read by {data_class}.{constructor}(...); " + "; ".join(described) + ".")
    inspection = inspect_data(task, items, tokenizer=_tokenizer(args.tokenizer), findings=findings)
    print(summary_text(inspection, description))
    if args.report:
        print(f"Report: {write_inspection_page(inspection, description, args.report)}")
    return 1 if inspection.errors else 0
