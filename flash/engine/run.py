"""``RunContext``: what the loops of one ``fit`` / ``validate`` / ``test`` / ``predict`` share.

The Trainer builds one per run and hands it to the loop (``run_fit(run, ...)``); it is dropped when the
run ends. It holds what lives exactly as long as the run: the model, the callbacks of this run (the
Trainer's, then those the model's ``configure_callbacks()`` or ``finetune()`` brought), the hook
dispatcher over them, the strategy's training wrapper, and where ``self.log`` writes. Everything else
the loops read is the Trainer's public surface (``settings``, ``fit_state``, ``strategy``,
``precision``, ``callback_metrics``, ...).

Example:
    >>> import flash
    >>> trainer = flash.Trainer(logger=False, enable_progress_bar=False, report=False)  # doctest: +SKIP
    >>> run = RunContext(trainer, model, extra_callbacks=[])  # doctest: +SKIP
    >>> run.hooks.call("on_fit_start")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from flash.engine.callbacks import Callback
from flash.engine.hooks import HookDispatcher
from flash.engine.results import LogTarget, batch_size_of
from flash.errors import ConfigurationError, NonFiniteLossError
from flash.fabric import data as engine_data
from flash.fabric.precision import Precision
from flash.fabric.seed import global_seed


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor (and anything with a ``.to``) on ``device``."""

    def other(value: Any) -> Any:
        return value.to(device) if callable(getattr(value, "to", None)) else value

    return engine_data.apply_to_tensors(batch, lambda tensor: tensor.to(device, non_blocking=True), other=other)


class RunContext:
    """One run of the Trainer: its model, callbacks, hooks, training wrapper and logging target."""

    def __init__(self, trainer: Any, model: Any, *, extra_callbacks: Iterable[Callback] = ()) -> None:
        self.trainer = trainer
        self.model = model
        self.extra_callbacks: list[Callback] = list(extra_callbacks)  # the model's and finetune's, for this run
        self.hooks = HookDispatcher(trainer=trainer, model=lambda: self.model, callbacks=lambda: self.callbacks)
        self.wrapped: torch.nn.Module | None = None  # the strategy's wrapper that runs training steps, if any
        self.logging = LogTarget()  # where self.log writes: swapped for each evaluation, restored after it

    @property
    def callbacks(self) -> list[Callback]:
        """Every callback of this run: the Trainer's (read live: one added mid-run joins), then this run's extras."""
        return self.trainer.callbacks + self.extra_callbacks

    def add_model_callbacks(self) -> None:
        """Add the model's ``configure_callbacks()`` for this run (one per type: a type already there is kept)."""
        for callback in getattr(self.model, "configure_callbacks", lambda: [])() or []:
            if all(type(callback) is not type(c) for c in self.extra_callbacks):
                self.extra_callbacks.append(callback)

    # ------------------------------------------------------------------ self.log
    def log(self, name, value, on_step, on_epoch, prog_bar, sync_dist, batch_size) -> None:
        """``self.log`` of a module (positional arguments: it runs every step)."""
        trainer = self.trainer
        if trainer.sanity_checking:
            return
        if on_step is None or on_epoch is None:  # Lightning's defaults: by where self.log is called from
            per_step = self.logging.per_step
            on_step = per_step if on_step is None else on_step
            on_epoch = (not per_step) if on_epoch is None else on_epoch
        if batch_size is None and on_epoch:
            batch = self.logging.batch
            batch_size = batch_size_of(batch) if batch is not None else 1
        reduce_fn = trainer.strategy.all_reduce_sum if sync_dist and trainer.world_size > 1 else None
        self.logging.results.add(name, value, on_step, on_epoch, prog_bar, batch_size, sync_dist, reduce_fn)

    @contextlib.contextmanager
    def log_into(self, target: LogTarget) -> Iterator[LogTarget]:
        """``self.log`` writes to ``target`` inside the block; the previous target is restored on any exit."""
        outer, self.logging = self.logging, target
        try:
            yield target
        finally:
            self.logging = outer

    # ------------------------------------------------------------------ loaders
    def prepare_loader(self, loader: Any, *, train: bool) -> Any:
        """``loader`` sharded over the processes and resumable mid-epoch."""
        trainer = self.trainer
        return engine_data.engine_dataloader(loader, train=train, rank=trainer.global_rank,
                                             world_size=trainer.world_size, seed=global_seed())

    @staticmethod
    def limit(loader: Any, limit: int | float | None) -> float:
        """How many batches of ``loader`` to run under a ``limit_*_batches`` value."""
        total = engine_data.num_batches(loader)
        if limit is None:
            return total
        if isinstance(limit, float):
            if not 0.0 <= limit <= 1.0:
                raise ConfigurationError(f"A float batch limit must be in [0, 1]. Received: {limit}")
            return total if limit == 1.0 else (int(total * limit) if math.isfinite(total) else total)
        return min(total, int(limit))

    # ------------------------------------------------------------------ steps and batches
    def step_runner(self, name: str) -> Callable[[Any, int], Any]:
        """``step(batch, batch_idx)`` for the hook ``name``; wrapper and autocast are decided once, not per batch."""
        strategy, precision = self.trainer.strategy, self.trainer.precision
        if name == "training_step" and self.wrapped is not None:
            step = functools.partial(strategy.training_step, self.wrapped, self.model)
        else:
            step = getattr(self.model, name)
        device_type = strategy.device.type
        if not precision.has_autocast:
            return step

        def autocast_step(batch: Any, batch_idx: int) -> Any:
            with precision.autocast(device_type):
                return step(batch, batch_idx)

        return autocast_step

    def batch_mover(self) -> Callable[[Any], Any] | None:
        """What turns a loaded batch into a model input (dtype, device), or None when nothing needs doing."""
        device, precision = self.trainer.strategy.device, self.trainer.precision
        convert = precision.convert_input
        converts = type(precision).convert_input is not Precision.convert_input
        if device.type == "cpu":
            return convert if converts else None
        return lambda batch: to_device(convert(batch), device)

    def to_device(self, batch: Any) -> Any:
        """One batch as the model takes it; the loops call ``batch_mover()`` once instead."""
        mover = self.batch_mover()
        return batch if mover is None else mover(batch)

    def check_finite(self, loss: torch.Tensor, value: float | None = None) -> bool:
        """``value``: the loss already read on the host (a one-element loss), far cheaper than isfinite().all()."""
        if math.isfinite(value) if value is not None else torch.isfinite(loss).all():
            return True
        trainer = self.trainer
        if trainer.settings.on_nonfinite_loss == "skip":
            warnings.warn(f"Non-finite loss ({loss.item()}) at epoch {trainer.current_epoch}, global step "
                          f"{trainer.global_step}; skipping this optimizer step.", stacklevel=2)
            return False
        raise NonFiniteLossError(
            f"The training loss is {loss.item()} at epoch {trainer.current_epoch}, global step "
            f"{trainer.global_step}. Lower the learning rate, enable gradient_clip_val, check the data for NaNs, "
            "or pass Trainer(on_nonfinite_loss='skip') to skip such batches."
        )
