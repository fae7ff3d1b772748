"""Checkpoint files: a plain dict with a format version, written atomically, read safely.

A checkpoint never needs unpickling of arbitrary objects: it is read with
``torch.load(weights_only=True)`` (tensors, dicts, lists, numbers and strings only). ``Fabric.save`` /
``Fabric.load`` and the Trainer's checkpoints (:mod:`flash.engine.checkpoint`) all go through here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from flash._version import __version__
from flash.errors import DISTRIBUTION, CheckpointError

FORMAT_VERSION = 1
VERSION_KEY = "flash_checkpoint_version"
TMP_SUFFIX = ".tmp"
_DEBRIS = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # what tempfile.mkstemp names in save_checkpoint


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically: a crash mid-write leaves the old file intact.

    The bytes go to a hidden temporary file (``.<name>.<random>.tmp``) renamed over ``path`` once
    complete; :func:`remove_debris` deletes those a killed process left. A full disk raises a
    CheckpointError that says so, and the previous ``path`` is kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {VERSION_KEY: FORMAT_VERSION, **checkpoint}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_full(path, err) from err
        raise
    return path


def save_on_rank_zero(checkpoint: dict[str, Any], path: str | os.PathLike, strategy: Any) -> None:
    """Rank 0 writes ``checkpoint`` to ``path`` (:func:`save_checkpoint`); a collective that every process leaves
    together. Should rank 0's write fail (a full disk, a folder at ``path``), every process raises, rather than
    the others waiting forever for a rank that has already left with its error."""
    error: BaseException | None = None
    if strategy.is_global_zero:
        try:
            save_checkpoint(checkpoint, path)
        except Exception as err:
            error = err
    if strategy.broadcast_object(error is not None):  # a barrier too: nobody reads ``path`` before it is written
        if error is not None:
            raise error
        raise CheckpointError(f"Rank 0 failed to write the checkpoint '{path}' (its error says why); the previous "
                              f"'{Path(path).name}', if any, is intact. Received: path='{path}'")


def _disk_full(path: Path, err: OSError) -> CheckpointError:
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    kept = f"The previous '{path.name}' is intact. " if path.exists() else ""
    return CheckpointError(
        f"Disk full: cannot write checkpoint '{path}' ({err.strerror}; {free} in '{path.parent}'). {kept}"
        "Free some space, or save elsewhere with Trainer(default_root_dir=...) or ModelCheckpoint(dirpath=...). "
        f"Received: path='{path}'"
    )


def remove_debris(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of checkpoint writes that were killed (``.<name>.<random>.tmp``) in ``folder``.

    Example:
        >>> remove_debris("no/such/folder")
        []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    debris = [p for p in folder.glob(f".*{TMP_SUFFIX}") if _DEBRIS.fullmatch(p.name) and p.is_file()]
    for path in debris:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return debris


def load_checkpoint(path: str | os.PathLike, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a flash checkpoint safely, checking its format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file not found: '{path}'. Check the path, or train a model first.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": noise beside the real error
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, RuntimeError for corrupt zips, KeyError, ...
        # PyTorch's text advises weights_only=False (arbitrary code execution) and holds terminal escapes: not shown
        raise CheckpointError(load_error_message(path, err)) from None
    if not isinstance(checkpoint, dict) or VERSION_KEY not in checkpoint:
        raise CheckpointError(
            f"'{path}' is not a flash checkpoint (no '{VERSION_KEY}' key). "
            "Save checkpoints with trainer.save_checkpoint(...) or the ModelCheckpoint callback."
        )
    version = checkpoint[VERSION_KEY]
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"'{path}' has an unreadable format version. Received: {VERSION_KEY}={version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"Checkpoint '{path}' has format version {version}, but this flash ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade flash: pip install -U {DISTRIBUTION}"
        )
    return checkpoint


def plain_text(text: str) -> str:
    """``text`` without terminal escape sequences or other control characters (newlines and tabs become spaces)."""
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.", "", text)
    return "".join(c if c.isprintable() else " " for c in text)


def load_error_message(path: str | os.PathLike, err: BaseException) -> str:
    """What a file that ``torch.load(weights_only=True)`` refused is, in flash's words.

    Says what the file is not (a readable checkpoint, an intact one, a safe one), names the global
    a refused pickle asked for, and never suggests loading with ``weights_only=False``.
    """
    name = plain_text(os.fspath(path))
    text = plain_text(str(err))
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (f"'{name}' is not a safe checkpoint: it asks to unpickle the Python object '{found.group(1)}', and "
                "flash loads only tensors and plain values (weights_only=True), never arbitrary objects, which can "
                "run code. If you made the file, save it with trainer.save_checkpoint(...) or ModelCheckpoint; "
                f"otherwise do not load it. Received: refused global {found.group(1)!r}")
    if isinstance(err, RuntimeError) and ("zip archive" in text or "PytorchStreamReader" in text):
        return (f"'{name}' is a corrupt or truncated checkpoint (its zip archive cannot be read). Copy it again, "
                "or use another checkpoint (e.g. last.ckpt).")
    return (f"'{name}' is not a readable flash checkpoint (not a PyTorch zip file of tensors and plain values, as "
            "weights_only=True reads; random bytes, a plain pickle, or another format). Save checkpoints with "
            f"trainer.save_checkpoint(...) or ModelCheckpoint. Received: {type(err).__name__} reading it")
