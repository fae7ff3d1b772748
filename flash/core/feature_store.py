"""Where the feature cache keeps a frozen backbone's outputs: one preallocated array, in memory or on disk.

Up to a memory budget the features live in one tensor in RAM; beyond it in one memory-mapped file
(``<cache_folder()>/<fingerprint>/<stage>.f32``), written in place as batches come (never a second,
concatenated copy). The fingerprint hashes what decides the features: the backbone's weights, the
evaluation transform, the stage and the inputs (file paths with their sizes and modification times, or
the texts) with their targets; a later fit of the same backbone on unchanged data reuses the file (or,
in the same process, the tensors). ``clear_cache()`` removes the files (``flash cache clear``).

Example:
    >>> from flash.core.feature_cache import clear_cache
    >>> clear_cache()  # doctest: +SKIP
    1073741824
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flash.core.data.columns import SampleColumns

BUDGET_ENV = "FLASH_FEATURE_CACHE_MB"
DEFAULT_BUDGET_MB = 1024
_IN_MEMORY: dict[str, tuple[torch.Tensor, Any]] = {}  # fingerprint -> (features, targets) of the last fit
_KEEP_IN_MEMORY = 2  # within the budget: one fit's train and val features, not several budgets' worth


def cache_folder() -> Path:
    """``$FLASH_CACHE/features`` (default ``~/.cache/flash/features``): the feature cache's files."""
    root = os.environ.get("FLASH_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "flash")
    return Path(root).expanduser() / "features"


def clear_cache(folder: str | os.PathLike | None = None) -> int:
    """Remove the feature cache's files (and forget the features held in memory); returns the bytes freed."""
    _IN_MEMORY.clear()
    root = Path(folder) if folder is not None else cache_folder()
    if not root.is_dir():
        return 0
    freed = sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())
    shutil.rmtree(root)
    return freed


def memory_budget(value: int | None = None) -> int:
    """Bytes of features kept in RAM before they go to a file: ``value``, ``$FLASH_FEATURE_CACHE_MB`` or 1 GiB."""
    if value is not None:
        return int(value)
    return int(float(os.environ.get(BUDGET_ENV, DEFAULT_BUDGET_MB)) * 2**20)


# ---------------------------------------------------------------------------------------- fingerprints
def fingerprint(module: Any, source: Any, transform: Any, stage: str) -> str | None:
    """A hash of what decides the cached features, or None when the inputs cannot be fingerprinted cheaply."""
    data = _data_digest(source)
    if data is None:
        return None
    digest = hashlib.sha256(data.encode())
    digest.update(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    for name, tensor in sorted(module.state_dict().items()):
        if name.startswith("head."):  # what is trained on the features, not what makes them
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    hparams = {k: v for k, v in dict(getattr(module, "hparams", {}) or {}).items() if not _training_only(k)}
    state = transform.state_dict() if hasattr(transform, "state_dict") else repr(transform)
    digest.update(repr((sorted(hparams.items(), key=str), state, stage)).encode())
    return digest.hexdigest()[:32]


def _training_only(name: str) -> bool:
    """Hyperparameters that change how the head trains, never the backbone's features."""
    return any(word in name for word in ("learning_rate", "lr", "optimizer", "scheduler", "metric", "loss"))


def _data_digest(source: Any) -> str | None:
    """Inputs (paths with size and time, or texts), order and targets of an Input or Subset of one."""
    indices = getattr(source, "indices", None)
    base = getattr(source, "source", source)
    samples = getattr(base, "samples", None)
    if not isinstance(samples, SampleColumns) or not all(isinstance(v, str) for v in samples.inputs):
        return None
    digest = hashlib.sha256()
    files = "filepath" in samples.metadata
    for value in samples.inputs:
        digest.update(value.encode("utf-8", "surrogatepass") + b"\0")
        if files:
            try:
                status = os.stat(value)
            except OSError:
                return None
            digest.update(f"{status.st_size}:{status.st_mtime_ns}\0".encode())
    targets = samples.targets
    digest.update(np.asarray(targets).tobytes() if isinstance(targets, np.ndarray) else repr(targets).encode())
    digest.update(repr(list(indices) if indices is not None else None).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------- storage
def reuse(key: str | None, folder: str | os.PathLike | None) -> tuple[torch.Tensor, Any] | None:
    """The features and targets cached under ``key``: in memory, else a complete file; None when absent."""
    if key is None:
        return None
    if key in _IN_MEMORY:
        return _IN_MEMORY[key]
    entry = Path(folder) if folder is not None else cache_folder()
    meta_path = entry / key / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    # copy-on-write: pages are read from the file (shared with the page cache), the file is never changed
    array = np.memmap(entry / key / "features.f32", dtype=np.float32, mode="c", shape=tuple(meta["shape"]))
    targets = torch.load(entry / key / "targets.pt", weights_only=True)
    return torch.from_numpy(array), targets


class FeatureStore:
    """``count`` rows of features of ``shape``, preallocated: a tensor within the budget, else a memory-mapped file."""

    def __init__(self, count: int, shape: tuple[int, ...], *, key: str | None, folder: str | os.PathLike | None,
                 budget: int | None) -> None:
        self.key, self.filled = key, 0
        self.shape = (count, *shape)
        nbytes = int(np.prod(self.shape)) * 4
        self.path: Path | None = None
        if nbytes <= memory_budget(budget):
            self.array: Any = torch.empty(self.shape, dtype=torch.float32)
            return
        root = Path(folder) if folder is not None else cache_folder()
        root.mkdir(parents=True, exist_ok=True)
        if key is not None:
            self.path = root / key
            self.path.mkdir(exist_ok=True)
            target = str(self.path / "features.f32")
        else:  # inputs that cannot be fingerprinted: a file removed once the process lets go of it
            handle, target = tempfile.mkstemp(dir=root, suffix=".f32")
            os.close(handle)
        self.array = np.memmap(target, dtype=np.float32, mode="w+", shape=self.shape)
        if key is None:
            os.unlink(target)  # the mapping keeps the pages; nothing is left behind on disk

    def append(self, features: torch.Tensor) -> None:
        rows = len(features)
        if isinstance(self.array, torch.Tensor):
            self.array[self.filled:self.filled + rows] = features
        else:
            self.array[self.filled:self.filled + rows] = features.numpy()
        self.filled += rows

    def finish(self, targets: Any) -> torch.Tensor:
        """The filled rows as a tensor; a file is flushed and marked complete, so later fits may reuse it."""
        if isinstance(self.array, torch.Tensor):
            features = self.array[:self.filled]
        else:
            self.array.flush()
            features = torch.from_numpy(self.array[:self.filled])
            if self.path is not None:
                torch.save(targets, self.path / "targets.pt")
                meta = {"shape": [self.filled, *self.shape[1:]], "complete": True}
                (self.path / "meta.json.tmp").write_text(json.dumps(meta))
                os.replace(self.path / "meta.json.tmp", self.path / "meta.json")  # written last: complete
        if self.key is not None:
            while len(_IN_MEMORY) >= _KEEP_IN_MEMORY:
                _IN_MEMORY.pop(next(iter(_IN_MEMORY)))
            _IN_MEMORY[self.key] = (features, targets)
        return features
