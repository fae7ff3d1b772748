"""``flash data inspect PATH [--task TASK] [--report DIR] [--progress]``: what the data is and what is wrong with it.

Each file is read once, as the folder is walked (nothing per file is kept but a name, a label and a hash), and no
torch is imported to list or check files.

Exit status 0 when training could start, 1 when a problem would stop it (so it can gate a pipeline).

Example::

    flash data inspect data/ --task <task> --report inspect_report/
"""

from __future__ import annotations

import sys
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


def _progress_bar(enable: bool | None) -> Any:
    """A tqdm counter of samples read, on stderr: with ``--progress``, or by default when stderr is a terminal."""
    if not (enable if enable is not None else sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(desc="Inspecting", unit=" samples", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)


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
    bar = _progress_bar(getattr(args, "progress", None))
    try:
        inspection = inspect_data(entry, items, tokenizer=_tokenizer(args.tokenizer), findings=findings,
                                  progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    print(summary_text(inspection, description))
    if args.report:
        print(f"Report: {write_inspection_page(inspection, description, args.report)}")
    return 1 if inspection.errors else 0
