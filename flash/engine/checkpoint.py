"""Checkpoint files: a plain dict with a format version, written atomically, read safely.

A checkpoint never needs unpickling of arbitrary objects: it is read with
``torch.load(weights_only=True)`` (tensors, dicts, lists, numbers and strings only).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from flash.errors import CheckpointError

FORMAT_VERSION = 1
VERSION_KEY = "flash_checkpoint_version"


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically: a crash mid-write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {VERSION_KEY: FORMAT_VERSION, **checkpoint}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a flash checkpoint safely, checking its format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file not found: '{path}'. Check the path, or train a model first.")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle.UnpicklingError, RuntimeError for corrupt zips, ...
        raise CheckpointError(
            f"Cannot load checkpoint '{path}': {str(err).splitlines()[0] if str(err) else type(err).__name__}. "
            "flash only loads checkpoints made of tensors and plain Python values (weights_only=True); "
            "the file is corrupt, truncated, or holds arbitrary pickled objects, which are refused for safety."
        ) from err
    if not isinstance(checkpoint, dict) or VERSION_KEY not in checkpoint:
        raise CheckpointError(
            f"'{path}' is not a flash checkpoint (no '{VERSION_KEY}' key). "
            "Save checkpoints with trainer.save_checkpoint(...) or the ModelCheckpoint callback."
        )
    version = checkpoint[VERSION_KEY]
    if version > FORMAT_VERSION:
        import flash

        raise CheckpointError(
            f"Checkpoint '{path}' has format version {version}, but this flash ({flash.__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade flash: pip install -U flash"
        )
    return checkpoint
