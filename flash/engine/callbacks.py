"""Callbacks: a base whose hooks do nothing, and the standard ones built on it."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import torch

from flash.errors import ConfigurationError, invalid_choice
from flash.fabric.checkpoint import remove_debris


class Callback:
    """Override any hook; every one is a no-op here. ``state_dict`` is saved in checkpoints.

    Order: every hook runs on the model first (its method of the same name, without ``trainer, module``),
    then on each callback in ``Trainer(callbacks=[...])`` order, then on those the model's
    ``configure_callbacks()`` or ``finetune`` added; ``on_save_checkpoint`` and the evaluation hooks included.
    At an epoch's end the epoch means are computed between the model's hook and the callbacks', so
    ``trainer.callback_metrics`` holds them, with what the model logged in its own epoch-end hook.

    Read the loop's position from public properties: ``trainer.current_epoch``, ``trainer.global_step``,
    ``trainer.fit_state`` (a :class:`~flash.engine.state.FitState`: ``batches_seen``, ``optimizer_stepped``, ...).
    Set ``trainer.should_stop = True`` to end training.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_train_epoch_end(self, trainer, module):
        ...         print(trainer.current_epoch, trainer.callback_metrics.get("train_loss"))
    """

    @property
    def state_key(self) -> str:
        return type(self).__qualname__

    def setup(self, trainer, module, stage: str) -> None: ...
    def teardown(self, trainer, module, stage: str) -> None: ...
    def on_fit_start(self, trainer, module) -> None: ...
    def on_fit_end(self, trainer, module) -> None: ...
    def on_train_start(self, trainer, module) -> None: ...
    def on_train_end(self, trainer, module) -> None: ...
    def on_train_epoch_start(self, trainer, module) -> None: ...
    def on_train_epoch_end(self, trainer, module) -> None: ...
    def on_train_batch_start(self, trainer, module, batch, batch_idx: int) -> None: ...
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None: ...
    def on_before_optimizer_step(self, trainer, module, optimizer) -> None: ...
    def on_validation_start(self, trainer, module) -> None: ...
    def on_validation_end(self, trainer, module) -> None: ...
    def on_validation_epoch_start(self, trainer, module) -> None: ...
    def on_validation_epoch_end(self, trainer, module) -> None: ...
    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None: ...
    def on_test_start(self, trainer, module) -> None: ...
    def on_test_end(self, trainer, module) -> None: ...
    def on_test_epoch_start(self, trainer, module) -> None: ...
    def on_test_epoch_end(self, trainer, module) -> None: ...
    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None: ...
    def on_predict_start(self, trainer, module) -> None: ...
    def on_predict_end(self, trainer, module) -> None: ...
    def on_predict_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None: ...
    def on_save_checkpoint(self, trainer, module, checkpoint: dict) -> None: ...
    def on_load_checkpoint(self, trainer, module, checkpoint: dict) -> None: ...
    def on_exception(self, trainer, module, exception: BaseException) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise invalid_choice("mode", mode, ("min", "max"))
    return mode


def _improved(current: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(current)
    return current < best - min_delta if mode == "min" else current > best + min_delta


class ModelCheckpoint(Callback):
    """Save checkpoints: the ``save_top_k`` best by ``monitor``, and/or ``last.ckpt``.

    Writes are atomic and collective (every process calls, rank 0 writes), so a kill during a
    save never leaves a corrupt or missing ``last.ckpt``.

    Example:
        >>> ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2, save_last=True)  # doctest: +ELLIPSIS
        <...ModelCheckpoint...>
    """

    def __init__(
        self,
        dirpath: str | os.PathLike | None = None,
        *,
        filename: str = "epoch={epoch}-step={step}",
        monitor: str | None = None,
        mode: Literal["min", "max"] = "min",
        save_top_k: int = 1,
        save_last: bool | None = None,
        every_n_train_steps: int | None = None,
        every_n_epochs: int | None = None,
    ) -> None:
        if save_top_k < -1:
            raise ConfigurationError(f"save_top_k must be >= -1. Received: save_top_k={save_top_k}")
        if monitor is None and save_top_k > 1:
            raise ConfigurationError(
                f"ModelCheckpoint keeps the {save_top_k} best checkpoints by a metric: set monitor=..., or use "
                f"save_top_k=1 (the latest) or -1 (all). Received: save_top_k={save_top_k}, monitor=None"
            )
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.filename = filename
        self.monitor = monitor
        self.mode = _check_mode(mode)
        self.save_top_k = save_top_k
        self.save_last = save_last
        self.every_n_train_steps = every_n_train_steps
        self.every_n_epochs = every_n_epochs if every_n_epochs is not None else (None if every_n_train_steps else 1)
        self.best_k_models: dict[str, float] = {}
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self.last_model_path = ""
        self._last_saved_step = -1
        self._validated = False  # a validation ran in this fit, so a missing monitor is a real mistake

    @property
    def state_key(self) -> str:
        return (f"ModelCheckpoint{{monitor={self.monitor!r}, mode={self.mode!r}, every_n_train_steps="
                f"{self.every_n_train_steps}, every_n_epochs={self.every_n_epochs}}}")

    def setup(self, trainer, module, stage):
        if self.dirpath is None:
            self.dirpath = Path(trainer.log_dir) / "checkpoints"
        if stage == "fit" and trainer.is_global_zero:  # what a killed write left behind is no checkpoint
            remove_debris(self.dirpath)
        self._validated = False

    def on_validation_end(self, trainer, module):
        self._validated = self._validated or not trainer.sanity_checking

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        n = self.every_n_train_steps
        if n and trainer.global_step > 0 and trainer.global_step % n == 0 and trainer.fit_state.optimizer_stepped:
            self._save(trainer)

    def on_train_epoch_end(self, trainer, module):
        n = self.every_n_epochs
        if n and (trainer.current_epoch + 1) % n == 0:
            self._save(trainer)

    def _save(self, trainer) -> None:
        if trainer.global_step == self._last_saved_step or trainer.sanity_checking or trainer.settings.fast_dev_run:
            return
        self._last_saved_step = trainer.global_step
        metrics = trainer.callback_metrics
        if self.monitor is not None and self.save_top_k != 0:
            if self.monitor in metrics:  # rank 0's value decides, so every process joins the same saves
                self._save_top_k(trainer, trainer.strategy.broadcast_object(float(metrics[self.monitor])))
            elif self._validated or not trainer.num_val_batches:  # else: wait for the first validation
                raise ConfigurationError(
                    f"ModelCheckpoint(monitor={self.monitor!r}) found no such logged metric. "
                    f"Logged: {sorted(metrics)}. Log it with self.log({self.monitor!r}, ...), or change monitor."
                )
        elif self.monitor is None and (self.save_top_k == -1 or (self.save_top_k == 1 and not self.save_last)):
            path = self._format_path(trainer)  # no monitor: keep the latest (save_top_k=1) or every one (-1)
            trainer.save_checkpoint(path)
            if self.save_top_k == 1:
                self._remove_old(trainer, keep={str(path)})
                self.best_k_models = {}
            self.best_k_models[str(path)] = float(trainer.global_step)
            self.best_model_path = str(path)
        if self.save_last:
            path = self.dirpath / "last.ckpt"
            trainer.save_checkpoint(path)
            self.last_model_path = str(path)

    def _format_path(self, trainer) -> Path:
        values = {"epoch": trainer.current_epoch, "step": trainer.global_step, **trainer.callback_metrics}
        try:
            name = self.filename.format(**values)
        except (KeyError, IndexError, ValueError):
            name = f"epoch={trainer.current_epoch}-step={trainer.global_step}"
        return self.dirpath / f"{name}.ckpt"

    def _save_top_k(self, trainer, score: float) -> None:
        k = self.save_top_k
        worst = None
        if k != -1 and len(self.best_k_models) >= k:
            reverse = self.mode == "min"
            worst = sorted(self.best_k_models.items(), key=lambda kv: kv[1], reverse=reverse)[0]
            if not _improved(score, worst[1], self.mode):
                return
        path = self._format_path(trainer)
        trainer.save_checkpoint(path)
        self.best_k_models[str(path)] = score
        if worst is not None:
            del self.best_k_models[worst[0]]
            if trainer.is_global_zero and worst[0] != str(path) and os.path.exists(worst[0]):
                os.remove(worst[0])
        best = (min if self.mode == "min" else max)(self.best_k_models.items(), key=lambda kv: kv[1])
        self.best_model_path, self.best_model_score = best

    def _remove_old(self, trainer, keep: set[str]) -> None:
        for old in list(self.best_k_models):
            if old not in keep and trainer.is_global_zero and os.path.exists(old):
                os.remove(old)

    def state_dict(self):
        return {"best_k_models": dict(self.best_k_models), "best_model_path": self.best_model_path,
                "best_model_score": self.best_model_score, "last_model_path": self.last_model_path,
                "dirpath": str(self.dirpath) if self.dirpath else ""}

    def load_state_dict(self, state):
        self.best_k_models = dict(state.get("best_k_models", {}))
        self.best_model_path = state.get("best_model_path", "")
        self.best_model_score = state.get("best_model_score")
        self.last_model_path = state.get("last_model_path", "")


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` validation runs."""

    def __init__(self, monitor: str = "val_loss", *, mode: Literal["min", "max"] = "min", patience: int = 3,
                 min_delta: float = 0.0, check_finite: bool = True, strict: bool = True) -> None:
        self.monitor = monitor
        self.mode = _check_mode(mode)
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.check_finite = check_finite
        self.strict = strict
        self.best_score: float | None = None
        self.wait_count = 0
        self.stopped_epoch = 0

    @property
    def state_key(self) -> str:
        return f"EarlyStopping{{monitor={self.monitor!r}, mode={self.mode!r}}}"

    def on_validation_end(self, trainer, module):
        if trainer.sanity_checking or trainer.state_stage != "fit":
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            if self.strict:
                raise ConfigurationError(
                    f"EarlyStopping(monitor={self.monitor!r}) found no such logged metric. Logged: {sorted(metrics)}."
                )
            return
        current = trainer.strategy.broadcast_object(float(metrics[self.monitor]))  # all processes stop together
        if self.check_finite and not math.isfinite(current):
            trainer.should_stop = True
            self.stopped_epoch = trainer.current_epoch
            return
        if _improved(current, self.best_score, self.mode, self.min_delta):
            self.best_score = current
            self.wait_count = 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                trainer.should_stop = True
                self.stopped_epoch = trainer.current_epoch

    def state_dict(self):
        return {"best_score": self.best_score, "wait_count": self.wait_count, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state):
        self.best_score = state.get("best_score")
        self.wait_count = state.get("wait_count", 0)
        self.stopped_epoch = state.get("stopped_epoch", 0)


class LearningRateMonitor(Callback):
    """Log each parameter group's learning rate as ``lr-<Optimizer>[/pg<i>]`` every step."""

    def __init__(self, logging_interval: Literal["step", "epoch"] | None = None) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise invalid_choice("logging_interval", logging_interval, ("step", "epoch", None))
        self.logging_interval = logging_interval

    def _values(self, trainer) -> dict[str, float]:
        out = {}
        for optimizer in trainer.optimizers:
            name = f"lr-{type(optimizer).__name__}"
            groups = optimizer.param_groups
            for i, group in enumerate(groups):
                key = name if len(groups) == 1 else f"{name}/pg{i + 1}"
                lr = group["lr"]
                out[key] = float(lr.item() if isinstance(lr, torch.Tensor) else lr)
        return out

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.logging_interval != "epoch":
            trainer.log_metrics(self._values(trainer), step=trainer.global_step, every_n=True)

    def on_train_epoch_start(self, trainer, module):
        if self.logging_interval == "epoch":
            trainer.log_metrics(self._values(trainer), step=trainer.global_step)
