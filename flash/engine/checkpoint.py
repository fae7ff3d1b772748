"""The trainer state a checkpoint carries for an exact resume (loops, optimizers, schedulers, RNGs, callbacks).

The file format (version, atomic write, ``weights_only=True`` reading) is :mod:`flash.fabric.checkpoint`'s;
its names are importable from here too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch  # noqa: F401  (tests patch flash.engine.checkpoint.torch.save)

from flash.errors import CheckpointError
from flash.fabric.checkpoint import (  # noqa: F401  (re-exported: the file format lives in flash.fabric)
    FORMAT_VERSION,
    TMP_SUFFIX,
    VERSION_KEY,
    load_checkpoint,
    load_error_message,
    plain_text,
    remove_debris,
    save_checkpoint,
)
from flash.fabric.seed import recorded_seed, rng_state


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
