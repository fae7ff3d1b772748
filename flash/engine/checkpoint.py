"""Checkpoint files: a plain dict with a format version, written atomically, read safely; and
the trainer state they carry for an exact resume (loops, optimizers, schedulers, RNGs, callbacks).

A checkpoint never needs unpickling of arbitrary objects: it is read with
``torch.load(weights_only=True)`` (tensors, dicts, lists, numbers and strings only).
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
from flash.engine.seed import recorded_seed, rng_state
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


def save_last(trainer) -> Path:
    """Save ``last.ckpt`` where the fit loop is now, in the checkpoint folder (collective, like save_checkpoint).

    The folder is ``ModelCheckpoint``'s, else ``<log dir>/checkpoints``.
    """
    callback = trainer.checkpoint_callback
    folder = callback.dirpath if callback is not None and callback.dirpath is not None else None
    path = Path(folder or Path(trainer.log_dir) / "checkpoints") / "last.ckpt"
    trainer.save_checkpoint(path)
    if callback is not None:
        callback.last_model_path = str(path)
    return path


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

# ---------------------------------------------------------------------------------------- trainer state
def dump_state(run, *, weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint dict of a run (a ``RunContext``; collective: every process must call it).

    ``"loops"`` is ``trainer.fit_state.state_dict()`` with every process's epoch metric sums in ``"results"``.
    """
    trainer, model = run.trainer, run.model
    strategy = trainer.strategy
    loops = trainer.fit_state.state_dict()
    per_rank = strategy.all_gather_object({"rng": rng_state(), "results": loops["results"]})
    loops["results"] = [r["results"] for r in per_rank]
    checkpoint: dict[str, Any] = {
        "state_dict": strategy.model_state_dict(model),
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "loops": loops,
        "world_size": trainer.world_size,
    }
    seed = recorded_seed()
    if seed is not None:  # what `flash train --resume` seeds with again
        checkpoint["seed"] = seed
    if not weights_only:
        checkpoint["optimizer_states"] = [strategy.optimizer_state_dict(model, o) for o in trainer.optimizers]
        checkpoint["lr_schedulers"] = [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs]
        checkpoint["precision"] = trainer.precision.state_dict()
        checkpoint["callbacks"] = {c.state_key: c.state_dict() for c in run.callbacks if c.state_dict()}
        checkpoint["rng_states"] = [r["rng"] for r in per_rank]
    hparams = getattr(model, "hparams", None)
    if isinstance(hparams, dict):
        checkpoint["hyper_parameters"] = dict(hparams)
    run.hooks.call("on_save_checkpoint", checkpoint)
    return checkpoint


def _find_last(trainer) -> Path | None:
    callback = trainer.checkpoint_callback
    candidates = []
    if callback is not None and callback.dirpath is not None:
        candidates.append(Path(callback.dirpath) / "last.ckpt")
    candidates += sorted(trainer.default_root_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((path for path in candidates if path.is_file()), None)


def resolve_ckpt_path(trainer, ckpt_path: str | os.PathLike) -> Path:
    """``ckpt_path`` itself, or for ``"last"`` the newest ``last.ckpt`` (rank 0 picks it for every process)."""
    if str(ckpt_path) != "last":
        return Path(ckpt_path)
    found = _find_last(trainer) if trainer.is_global_zero else None
    found = trainer.strategy.broadcast_object(None if found is None else str(found))
    if found is None:
        raise CheckpointError(
            f"ckpt_path='last' found no last.ckpt under '{trainer.default_root_dir}'. "
            "Enable ModelCheckpoint(save_last=True), or pass the checkpoint's path."
        )
    return Path(found)


def restore_state(run, ckpt_path: str | os.PathLike, *, full: bool) -> dict | None:
    """Load the weights from ``ckpt_path`` into a run's model (a ``RunContext``); with ``full``, everything
    needed to resume training exactly.

    Returns the random number generators' state to set when training starts (``full`` only), or None.
    """
    trainer, model = run.trainer, run.model
    path = resolve_ckpt_path(trainer, ckpt_path)
    checkpoint = load_checkpoint(path)
    strategy = trainer.strategy
    run.hooks.call("on_load_checkpoint", checkpoint)
    strategy.load_model_state_dict(model, checkpoint["state_dict"])
    if not full:
        return None
    if "optimizer_states" not in checkpoint:
        raise CheckpointError(
            f"'{path}' holds weights only and cannot resume training; load it into the model instead."
        )
    for optimizer, state in zip(trainer.optimizers, checkpoint["optimizer_states"]):
        strategy.load_optimizer_state_dict(model, optimizer, state)
    for config, state in zip(trainer.lr_scheduler_configs, checkpoint.get("lr_schedulers", [])):
        config.scheduler.load_state_dict(state)
    trainer.precision.load_state_dict(checkpoint.get("precision", {}))
    states = checkpoint.get("callbacks", {})
    for callback in run.callbacks:
        if callback.state_key in states:
            callback.load_state_dict(states[callback.state_key])
    rank, world_size = trainer.global_rank, trainer.world_size
    loops = dict(checkpoint["loops"])
    results = loops.get("results") or []  # one per process; a different process count restarts the epoch's sums
    loops["results"] = results[rank] if len(results) == world_size else None
    trainer.fit_state.load_state_dict(loops)
    rng = checkpoint.get("rng_states") or []
    if len(rng) == world_size:
        return rng[rank]
    if rng:
        warnings.warn(f"'{path}' was saved with {len(rng)} process(es), now {world_size}: "
                      "random states restart from rank 0's, so the run will not repeat bit for bit.", stacklevel=2)
        return rng[0]
    return None
