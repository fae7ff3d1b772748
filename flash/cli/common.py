"""What several ``flash`` commands share: loading a task from a checkpoint, expanding inputs, safe output paths.

Every check here runs before any work starts (a prediction run that cannot write its output fails in a second,
not after an hour), and what a failed command created is removed (no partial output files left behind).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flash.cli.failures import os_reason
from flash.core.entry import TaskEntry
from flash.errors import CheckpointError, DataError
from flash.tasks import ENTRIES, task_for_model_class


# ---------------------------------------------------------------------------------------- checkpoints
def _check_checkpoint_path(path: str) -> None:
    file = Path(path)
    if file.is_dir():
        inside = sorted(str(p) for pattern in ("*.pt", "*.ckpt") for p in file.rglob(pattern))[:3]
        hint = f" It holds: {', '.join(inside)}." if inside else " It holds no .pt or .ckpt file."
        raise CheckpointError(f"--checkpoint '{path}' is a folder, not a checkpoint file.{hint} "
                              f"Received: --checkpoint {path}")
    if file.is_file() and file.stat().st_size == 0:
        raise CheckpointError(f"--checkpoint '{path}' is an empty file, not a checkpoint (an interrupted copy or "
                              f"save?). Copy it again or use another checkpoint. Received: --checkpoint {path}")


def checkpoint_task(checkpoint: dict[str, Any], path: Any) -> TaskEntry:
    """The task entry whose model ``checkpoint`` holds; a checkpoint of no known task says so."""
    info = checkpoint.get("task") or {}
    entry = task_for_model_class(info.get("class", ""))
    if entry is None:
        recorded = info.get("class") or "no task recorded"
        raise CheckpointError(f"'{path}' is not a checkpoint of a flash task ({recorded}); "
                              f"flash knows: {', '.join(e.name for e in ENTRIES)}. Received: --checkpoint {path}")
    return entry


def load_task(path: str) -> tuple[TaskEntry, Any]:
    """``(entry, model)`` from a checkpoint saved by flash (a URL is downloaded once to the cache)."""
    from flash.core.download import local_file
    from flash.core.lightning_checkpoint import is_lightning_checkpoint, lightning_checkpoint_hint
    from flash.engine.checkpoint import load_checkpoint

    _check_checkpoint_path(path)
    file = local_file(path)
    if is_lightning_checkpoint(file):
        raise CheckpointError(lightning_checkpoint_hint(file))
    entry = checkpoint_task(load_checkpoint(file), file)
    try:
        return entry, entry.load("model").load_from_checkpoint(file)
    except (RuntimeError, KeyError) as err:  # a state dict that does not fit the model it records
        raise CheckpointError(f"'{path}' holds a {entry.name} checkpoint whose weights do not fit the model it "
                              f"describes (edited, or saved by another flash?): {type(err).__name__}: {err}. "
                              f"Received: --checkpoint {path}") from err


# ---------------------------------------------------------------------------------------- inputs
def _column_values(raw: str, column: str, *, extensions: tuple[str, ...]) -> list[str]:
    path = Path(raw)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"--column {column!r} reads a CSV file, but '{raw}' {what}. Received: {raw}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                found = f"it has {reader.fieldnames}" if reader.fieldnames else "it is empty"
                raise DataError(f"'{raw}' has no column {column!r}; {found}. Received: --column {column}")
            values = [row[column] for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"'{raw}' is not a readable UTF-8 CSV file ({err}). Received: {raw}") from None
    if extensions:
        values = [str(p if Path(p).is_absolute() else path.parent / p) for p in values]
    return values


def expand_inputs(entry: TaskEntry, inputs: list[str], column: str | None) -> list[Any]:
    """``flash predict``'s inputs: files, folders (searched for the task's file types), globs, a CSV column;
    for tasks whose inputs are not files (texts), the inputs themselves."""
    extensions = entry.file_extensions()
    items: list[Any] = []
    for raw in inputs:
        path = Path(raw)
        if column:
            items += _column_values(raw, column, extensions=extensions)
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.is_file() and (not extensions or p.suffix.lower() in extensions))
            if not found:
                raise DataError(f"No {entry.name} input files found in folder '{raw}' (looked for "
                                f"{', '.join(extensions) or 'any file'}). Received: {raw}")
            items += found
        elif any(ch in raw for ch in "*?[") and extensions:
            found = sorted(glob.glob(raw, recursive=True))
            if not found:
                raise DataError(f"The pattern {raw!r} matches no files. Received: {raw}")
            items += found
        elif extensions and not path.is_file():
            raise DataError(f"Input file '{raw}' does not exist. Received: {raw}")
        else:
            items.append(raw)
    if not items:
        raise DataError("No inputs given. Example: flash predict --checkpoint model.pt data/test/")
    return items


# ---------------------------------------------------------------------------------------- outputs
def check_writable(path: str | os.PathLike, *, flag: str, folder: bool = False) -> None:
    """Raise a DataError naming ``flag`` and ``path`` unless a file (or, ``folder=True``, a folder) can be made there.

    Nothing is created: the nearest existing folder above ``path`` is checked for being a folder and writable.
    """
    path = Path(path)
    if path.is_dir() and not folder:
        raise DataError(f"{flag} '{path}' is a folder; give a file path inside it, e.g. '{path / 'out'}'. "
                        f"Received: {flag} {path}")
    if path.exists() and not path.is_dir() and folder:
        raise DataError(f"{flag} '{path}' is a file, not a folder. Give a folder, or remove the file. "
                        f"Received: {flag} {path}")
    above = path.parent if not path.is_dir() else path
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise DataError(f"{flag} '{path}': '{above}' is a file, not a folder, so nothing can be written under it. "
                        f"Choose another path. Received: {flag} {path}")
    if not os.access(above, os.W_OK | os.X_OK):
        raise DataError(f"{flag} '{path}': the folder '{above}' is not writable; choose a path you may write to, or "
                        f"change its permissions. Received: {flag} {path}")


def make_parents(path: Path) -> list[Path]:
    """Create the folders above ``path``; return those created, outermost first (to remove them on failure)."""
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        folder.mkdir()
    return missing


def remove_made(path: Path | None, folders: list[Path]) -> None:
    """Remove the file ``path`` and the (then empty) ``folders`` a failed command made."""
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def replacing(path: Path, *, flag: str) -> Iterator[Path]:
    """Write ``path`` inside the block; if the block fails, what it wrote is removed and the old file put back.

    An ``OSError`` while writing becomes a DataError naming ``flag`` and ``path``.
    """
    check_writable(path, flag=flag)
    made = make_parents(path)
    backup = path.with_name(f".{path.name}.flash-old") if path.is_file() else None
    if backup is not None:
        os.replace(path, backup)
    try:
        yield path
    except BaseException as err:
        remove_made(path, made)
        if backup is not None:
            os.replace(backup, path)
        if isinstance(err, OSError):
            raise DataError(f"Cannot write {flag} '{path}': {os_reason(err)}. Received: {flag} {path}") from err
        raise
    if backup is not None:
        backup.unlink()
