"""``flash data inspect PATH [--task TASK] [--report DIR]``: what the data is and what is wrong with it.

Exit status 0 when training could start, 1 when a problem would stop it (so it can gate a pipeline).

Example::

    flash data inspect data/ --task <task> --report inspect_report/
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flash.core.entry import Detected, TaskEntry
from flash.errors import DataError
from flash.tasks import ENTRIES, get_task


def guess_task(path: Path) -> TaskEntry:
    """The task whose entry recognises the data at ``path``: tasks that read files of known kinds (images,
    audio) are asked before those that take any table (text), which would also accept a table of file paths.
    When two tasks of the same group recognise it, the data is ambiguous and the user names the task."""
    file_tasks = [entry for entry in ENTRIES if entry.file_extensions()]
    for group in (file_tasks, [entry for entry in ENTRIES if entry not in file_tasks]):
        found = [(entry, detected) for entry in group if (detected := _recognise(entry, path)) is not None]
        if len(found) == 1:
            return found[0][0]
        if found:
            readings = "; ".join(f"{entry.name} ({detected.description})" for entry, detected in found)
            raise DataError(f"The data at '{path}' could be for several tasks: {readings}. Name it with --task, e.g. "
                            f"flash data inspect {path} --task {found[-1][0].name}. Received: path='{path}'")
    expected = "; ".join(f"{entry.name}: {entry.expects}" for entry in ENTRIES if entry.detect)
    raise DataError(f"Cannot tell which task the data at '{path}' is for. Expected one of: {expected}. "
                    f"Or name it with --task. Received: path='{path}'")


def _recognise(entry: TaskEntry, path: Path) -> Detected | None:
    try:
        return entry.recognise(path, val_split=0.0)
    except DataError:  # not this task's kind of table or folder
        return None


def _tokenizer(name: str | None) -> Callable[[str], list] | None:
    if not name:
        return None
    from flash.errors import require

    transformers = require("transformers", "text", purpose="counting tokens")
    tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    return lambda text: tokenizer(text)["input_ids"]


def run_inspect(args: Any, extra: list[str]) -> int:
    """Inspect ``args.path``; print the summary; write ``--report``; 1 when training would fail."""
    from flash.reports.inspect import inspect_data, read_split, split_paths
    from flash.reports.inspect_view import summary_text, write_inspection_page

    path = Path(args.path)
    if not path.exists():
        raise DataError(f"'{path}' does not exist. Give a data folder or file. Received: path={args.path!r}")
    if args.report:
        from flash.cli.common import check_writable

        check_writable(args.report, flag="--report", folder=True)  # before reading the data
    splits = split_paths(path)
    entry = get_task(args.task) if args.task else guess_task(splits["train"])
    items, findings, described, constructor = {}, [], [], ""
    for split, split_path in splits.items():
        detected = _recognise(entry, split_path)
        if detected is None:
            raise DataError(f"Cannot read the {split} split '{split_path}' as {entry.name} data. Expected: "
                            f"{entry.expects}. Received: path={args.path!r}")
        constructor = detected.constructor
        items[split], problems = read_split(split, constructor, detected.kwargs, task=entry)
        findings += problems
        described.append(f"{split}: '{split_path}' ({detected.description})")
    data_class = entry.data.rpartition(":")[2]
    description = (f"{entry.name} data read by {data_class}.{constructor}(...); " + "; ".join(described) + ".")
    inspection = inspect_data(entry, items, tokenizer=_tokenizer(args.tokenizer), findings=findings)
    print(summary_text(inspection, description))
    if args.report:
        print(f"Report: {write_inspection_page(inspection, description, args.report)}")
    return 1 if inspection.errors else 0
