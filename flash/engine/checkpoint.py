"""Checkpoint files: a plain dict with a format version, written atomically, read safely; and
the trainer state they carry for an exact resume (loops, optimizers, schedulers, RNGs, callbacks).

A checkpoint never needs unpickling of arbitrary objects: it is read with
``torch.load(weights_only=True)`` (tensors, dicts, lists, numbers and strings only).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from flash.engine.seed import rng_state
from flash.errors import DISTRIBUTION, CheckpointError

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
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"'{path}' has an unreadable format version. Received: {VERSION_KEY}={version!r}")
    if version > FORMAT_VERSION:
        import flash

        raise CheckpointError(
            f"Checkpoint '{path}' has format version {version}, but this flash ({flash.__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade flash: pip install -U {DISTRIBUTION}"
        )
    return checkpoint


# ---------------------------------------------------------------------------------------- trainer state
def dump_state(trainer, *, weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint dict of ``trainer``'s run (collective: every process must call it)."""
    model, strategy = trainer.model, trainer.strategy
    per_rank = strategy.all_gather_object({"rng": rng_state(), "results": trainer._results.state_dict()})
    checkpoint: dict[str, Any] = {
        "state_dict": strategy.model_state_dict(model),
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "loops": {"epoch": trainer.current_epoch, "batches_seen": trainer._batches_seen,
                  "epoch_finished": trainer._epoch_finished, "global_step": trainer.global_step,
                  "val_pending": trainer._val_pending, "results": [r["results"] for r in per_rank]},
        "world_size": trainer.world_size,
    }
    if not weights_only:
        checkpoint["optimizer_states"] = [strategy.optimizer_state_dict(model, o) for o in trainer.optimizers]
        checkpoint["lr_schedulers"] = [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs]
        checkpoint["precision"] = trainer.precision.state_dict()
        checkpoint["callbacks"] = {c.state_key: c.state_dict() for c in trainer._all_callbacks if c.state_dict()}
        checkpoint["rng_states"] = [r["rng"] for r in per_rank]
    hparams = getattr(model, "hparams", None)
    if isinstance(hparams, dict):
        checkpoint["hyper_parameters"] = dict(hparams)
    for callback in trainer._all_callbacks:
        callback.on_save_checkpoint(trainer, model, checkpoint)
    if callable(getattr(model, "on_save_checkpoint", None)):
        model.on_save_checkpoint(checkpoint)
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


def restore_state(trainer, ckpt_path: str | os.PathLike, *, full: bool) -> None:
    """Load the weights from ``ckpt_path``; with ``full``, everything needed to resume training exactly."""
    path = resolve_ckpt_path(trainer, ckpt_path)
    checkpoint = load_checkpoint(path)
    model, strategy = trainer.model, trainer.strategy
    if callable(getattr(model, "on_load_checkpoint", None)):
        model.on_load_checkpoint(checkpoint)
    strategy.load_model_state_dict(model, checkpoint["state_dict"])
    if not full:
        return
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
    for callback in trainer._all_callbacks:
        if callback.state_key in states:
            callback.load_state_dict(states[callback.state_key])
        callback.on_load_checkpoint(trainer, model, checkpoint)
    _restore_loops(trainer, checkpoint, path)


def _restore_loops(trainer, checkpoint: dict[str, Any], path: Path) -> None:
    loops, rank, world_size = checkpoint["loops"], trainer.global_rank, trainer.world_size
    trainer.global_step = loops["global_step"]
    if loops["epoch_finished"]:
        trainer.current_epoch, trainer._batches_seen = loops["epoch"] + 1, 0
    else:  # mid-epoch: also the validation that was due and the epoch's metric sums so far
        trainer.current_epoch, trainer._batches_seen = loops["epoch"], loops["batches_seen"]
        trainer._val_pending = loops.get("val_pending", False)
        results = loops.get("results") or []
        trainer._resume_results = results[rank] if len(results) == world_size else None
    rng = checkpoint.get("rng_states") or []
    if len(rng) == world_size:
        trainer._resume_rng = rng[rank]
    elif rng:
        warnings.warn(
            f"'{path}' was saved with {len(rng)} process(es), now {world_size}: "
            "random states restart from rank 0's, so the run will not repeat bit for bit.",
            stacklevel=2,
        )
        trainer._resume_rng = rng[0]
