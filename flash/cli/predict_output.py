"""Where ``flash predict`` writes, batch by batch: stdout, a ``.csv`` / ``.jsonl`` / ``.json`` file, or a folder.

Rows are written and flushed as each batch is predicted, so memory stays flat and a killed run keeps what it
finished. ``--resume`` reads the inputs already in a ``.csv`` / ``.jsonl`` output (dropping a row a kill cut in
half) and appends the rest. A ``.json`` array is closed when the run ends; a failed run removes it (use
``.jsonl`` to keep partial results). ``--output FOLDER/`` writes each prediction as files through the task's
``write`` adapter.

Example::

    flash predict --checkpoint model.pt data/ --output preds.jsonl            # killed at 60%?
    flash predict --checkpoint model.pt data/ --output preds.jsonl --resume   # predicts the other 40%
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from flash.cli.common import check_writable, make_parents, remove_made
from flash.cli.failures import os_reason
from flash.core.entry import TaskEntry
from flash.errors import ConfigurationError, DataError

FORMATS = (".csv", ".jsonl", ".json")
RESUMABLE = (".csv", ".jsonl")
HEADER = ["input", "prediction"]


def show(value: Any) -> str:
    """A prediction as one CSV cell or one printed column: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def is_folder(output: str) -> bool:
    """``--output FOLDER/`` (a trailing slash) or an existing folder: predictions written as files."""
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


class Printed:
    """``input<TAB>prediction`` lines on stdout, flushed per batch."""

    done: Counter = Counter()
    written = 0

    def start(self) -> None:
        pass

    def write(self, items: Sequence[Any], results: Sequence[Any]) -> None:
        sys.stdout.write("".join(f"{item}\t{show(result)}\n" for item, result in zip(items, results)))
        sys.stdout.flush()
        self.written += len(items)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FileOutput:
    """A ``.csv``, ``.jsonl`` or ``.json`` file of ``{input, prediction}`` rows, written per batch."""

    def __init__(self, output: str, *, resume: bool) -> None:
        self.path, self.suffix = Path(output), Path(output).suffix.lower()
        if self.suffix not in FORMATS:
            raise ConfigurationError(f"--output must end in {', '.join(FORMATS)}, or be a folder ending in '/'. "
                                     f"Received: --output {output}")
        if resume and self.suffix not in RESUMABLE:
            raise ConfigurationError(f"--resume appends to a .csv or .jsonl output; a .json array cannot be "
                                     f"continued. Use --output {self.path.with_suffix('.jsonl')}. "
                                     f"Received: --output {output} --resume")
        check_writable(self.path, flag="--output")
        self.resume = resume and self.path.is_file() and self.path.stat().st_size > 0
        self.done: Counter = self._read_done() if self.resume else Counter()
        self.written = 0
        self.handle: IO[str] | None = None
        self.made: list[Path] = []
        self.backup: Path | None = None
        self.created = False

    def _fail(self, err: OSError) -> DataError:
        return DataError(f"Cannot write predictions to '{self.path}': {os_reason(err)}. Received: --output {self.path}")

    def _read_done(self) -> Counter:
        """The inputs already in the output; a last row cut short by a kill is removed from the file."""
        try:
            with open(self.path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except (UnicodeDecodeError, OSError) as err:
            raise DataError(f"--resume cannot read '{self.path}' ({err}). Received: --output {self.path}") from None
        rows, kept = (_csv_rows if self.suffix == ".csv" else _jsonl_rows)(text, self.path)
        if kept < len(text.encode("utf-8")):  # a row a kill cut in half: predicted again
            with open(self.path, "r+b") as handle:
                handle.truncate(kept)
        return Counter(rows)

    def start(self) -> None:
        try:
            self.made = make_parents(self.path)
            if not self.resume and self.path.is_file():  # replaced only once this run has written something
                self.backup = self.path.with_name(f".{self.path.name}.flash-old")
                os.replace(self.path, self.backup)
            self.created = not self.path.exists()
            self.handle = handle = open(self.path, "a" if self.resume else "w", encoding="utf-8", newline="")
            if not self.resume:
                handle.write(",".join(HEADER) + "\r\n" if self.suffix == ".csv" else
                                  "[\n" if self.suffix == ".json" else "")
        except OSError as err:
            raise self._fail(err) from err

    def write(self, items: Sequence[Any], results: Sequence[Any]) -> None:
        assert self.handle is not None, "start() first"
        if self.suffix == ".csv":
            buffer = io.StringIO()
            csv.writer(buffer).writerows([item, show(result)] for item, result in zip(items, results))
            text = buffer.getvalue()
        else:
            rows = [json.dumps({"input": item, "prediction": result}) for item, result in zip(items, results)]
            if self.suffix == ".json":
                text = ("" if self.written == 0 else ",\n") + ",\n".join(rows)
            else:
                text = "".join(row + "\n" for row in rows)
        try:
            self.handle.write(text)
            self.handle.flush()
        except OSError as err:
            raise self._fail(err) from err
        self.written += len(items)
        if self.backup is not None and self.suffix in RESUMABLE:  # these rows are kept even if the run fails
            self.backup.unlink()
            self.backup = None

    def close(self) -> None:
        assert self.handle is not None, "start() first"
        try:
            if self.suffix == ".json":
                self.handle.write("\n]\n")
            self.handle.close()
        except OSError as err:
            raise self._fail(err) from err
        if self.backup is not None:
            self.backup.unlink()

    def abort(self) -> None:
        """After a failure: keep finished rows of a .csv/.jsonl (to --resume); else remove what this run made."""
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError:
                pass
        if self.resume or (self.written and self.suffix in RESUMABLE):
            if self.written:
                print(f"Kept the {self.written} predictions finished before the error in {self.path}; run the "
                      "same command with --resume to predict the rest.")
            return
        remove_made(self.path if self.created else None, self.made)
        if self.backup is not None:
            os.replace(self.backup, self.path)


def _csv_rows(text: str, path: Path) -> tuple[list[str], int]:
    """The inputs of a ``flash predict`` CSV and the byte length of its complete rows."""
    buffer, writer = io.StringIO(), None
    rows, kept, total = [], 0, len(text.encode("utf-8"))
    try:
        for i, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if i == 0 and row != HEADER:
                raise DataError(f"--resume: '{path}' is not a flash predict output (its header is {row}, not "
                                f"{HEADER}). Give another --output, or drop --resume. Received: --output {path}")
            buffer.seek(0)
            buffer.truncate()
            writer = csv.writer(buffer)
            writer.writerow(row)
            size = len(buffer.getvalue().encode("utf-8"))
            if (i > 0 and len(row) != 2) or kept + size > total:
                break  # the last row, cut short
            kept += size
            if i:
                rows.append(row[0])
    except csv.Error:  # a quoted cell cut short
        pass
    return rows, kept


def _jsonl_rows(text: str, path: Path) -> tuple[list[str], int]:
    """The inputs of a ``flash predict`` JSON-lines file and the byte length of its complete lines."""
    rows, kept = [], 0
    for line in text.splitlines(keepends=True):
        try:
            row = json.loads(line) if line.endswith("\n") else None
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or "input" not in row:
            break
        rows.append(row["input"])
        kept += len(line.encode("utf-8"))
    return rows, kept


class FolderOutput:
    """Each prediction written as files into a folder by the task's ``write`` adapter."""

    done: Counter = Counter()

    def __init__(self, output: str, *, entry: TaskEntry | None, resume: bool) -> None:
        if entry is None:
            raise ValueError("a folder output needs the task's entry")
        if resume:
            raise ConfigurationError(f"--resume appends to a .csv or .jsonl output, not a folder. "
                                     f"Received: --output {output} --resume")
        if not entry.has_adapter("write"):
            raise ConfigurationError(f"--output {output}: the {entry.name} task cannot write its predictions as "
                                     f"files; give a file ending in {', '.join(FORMATS)} instead. "
                                     f"Received: --output {output}")
        self.folder, self.writer = Path(output), entry.adapter("write")
        check_writable(self.folder, flag="--output", folder=True)
        self.written, self.files = 0, 0
        self.made: list[Path] = []

    def start(self) -> None:
        self.made = make_parents(self.folder / "x")

    def write(self, items: Sequence[Any], results: Sequence[Any]) -> None:
        for item, result in zip(items, results):
            try:
                self.files += len(self.writer(result, source=item, folder=self.folder))
            except OSError as err:
                raise DataError(f"Cannot write the prediction of '{item}' into '{self.folder}': {os_reason(err)}. "
                                f"Received: --output {self.folder}") from err
            self.written += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        if self.written == 0:
            remove_made(None, self.made)


def open_output(output: str | None, *, entry: TaskEntry | None, resume: bool) -> Any:
    """The place ``--output`` names (checked, not yet opened): stdout, a file, or a folder (which needs ``entry``)."""
    if output is None:
        if resume:
            raise ConfigurationError("--resume continues an --output file (.csv or .jsonl); give --output. "
                                     "Received: --resume without --output")
        return Printed()
    if is_folder(output):
        return FolderOutput(output, entry=entry, resume=resume)
    return FileOutput(output, resume=resume)
