"""``flash.Tuner(trainer)``: the learning-rate finder and the batch-size finder, for any task.

Both train for real on a throwaway ``flash.Trainer`` built from the given trainer's device and precision,
then restore the model bitwise (:func:`flash.tune.state.restored`). What they choose is applied (the model's
learning rate, the datamodule's batch size), logged with the run's hyper-parameters, and saved in the
checkpoint's ``hyper_parameters`` by a :class:`TunedHyperparameters` callback added to the trainer.

Example:
    >>> trainer = flash.Trainer(max_epochs=3)  # doctest: +SKIP
    >>> tuner = flash.Tuner(trainer)  # doctest: +SKIP
    >>> tuner.scale_batch_size(model, datamodule=datamodule).batch_size  # doctest: +SKIP
    48
    >>> tuner.lr_find(model, datamodule=datamodule, strategy="freeze").suggestion  # doctest: +SKIP
    0.0026
    >>> trainer.finetune(model, datamodule=datamodule, strategy="freeze")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from flash.engine.callbacks import Callback
from flash.engine.trainer import Trainer
from flash.errors import ConfigurationError
from flash.tune.batch_size import (
    BatchSizeResult,
    MemoryProbe,
    available_memory,
    free_memory,
    is_out_of_memory,
    search_batch_size,
)
from flash.tune.lr_finder import LRFinderResult, LRSweep, suggest_learning_rate, sweep_learning_rates
from flash.tune.state import restored


class TunedHyperparameters(Callback):
    """Log the tuned values with the run's hyper-parameters, and save them in the checkpoint.

    They go to ``checkpoint["hyper_parameters"]`` and ``checkpoint["tuned"]``, not to the task's own
    hyper-parameters: those rebuild the task, and a batch size is not a task argument.
    """

    def __init__(self, **values: Any) -> None:
        self.values = dict(values)

    def on_fit_start(self, trainer, module) -> None:
        hparams = getattr(module, "hparams", None)
        for logger in trainer.loggers:
            logger.log_hyperparams({**(hparams if isinstance(hparams, dict) else {}), **self.values})

    def on_save_checkpoint(self, trainer, module, checkpoint: dict) -> None:
        checkpoint.setdefault("hyper_parameters", {}).update(self.values)
        checkpoint["tuned"] = dict(self.values)


def _train(trainer: Trainer, model: torch.nn.Module, loaders: Any, datamodule: Any, strategy: Any) -> None:
    if strategy is None:
        trainer.fit(model, loaders, datamodule=datamodule)
    else:
        trainer.finetune(model, loaders, datamodule=datamodule, strategy=strategy)


def set_learning_rate(model: torch.nn.Module, learning_rate: float) -> None:
    """Give ``model`` a new learning rate, also in the hyper-parameters its checkpoint rebuilds it from."""
    if not hasattr(model, "learning_rate"):
        raise ConfigurationError(f"{type(model).__name__} has no `learning_rate` attribute to update; read "
                                 f"the suggestion from the result instead. Received: update_attr=True")
    model.learning_rate = learning_rate  # type: ignore[assignment]  # nn.Module attribute typing
    hparams = getattr(model, "hparams", None)
    if isinstance(hparams, dict):
        hparams["learning_rate"] = learning_rate


class Tuner:
    """Find a learning rate and a batch size for ``trainer``'s run; see the module docstring."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def _trial_trainer(self, **kwargs: Any) -> Trainer:
        """A quiet trainer on the same (first) device and precision that never validates, logs or saves."""
        settings = self.trainer.settings
        accelerator = self.trainer.accelerator
        devices = [self.trainer.device_indices[0]] if accelerator == "cuda" else 1
        return Trainer(accelerator=accelerator, devices=devices, precision=settings.precision, max_epochs=-1,
                       accumulate_grad_batches=settings.accumulate_grad_batches,
                       gradient_clip_val=settings.gradient_clip_val,
                       gradient_clip_algorithm=(settings.gradient_clip_algorithm  # type: ignore[arg-type]
                                                if settings.gradient_clip_val else None),
                       limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                       enable_progress_bar=False, on_nonfinite_loss="skip",
                       default_root_dir=self.trainer.default_root_dir, **kwargs)

    def _record(self, **values: Any) -> None:
        callback = next((c for c in self.trainer.callbacks if isinstance(c, TunedHyperparameters)), None)
        if callback is None:
            callback = TunedHyperparameters()
            self.trainer.callbacks.append(callback)
        callback.values.update(values)

    def lr_find(self, model: torch.nn.Module, train_dataloaders: Any = None, *, datamodule: Any = None,
                strategy: Any = None, min_lr: float = 1e-8, max_lr: float = 1.0, num_training: int = 100,
                mode: Literal["exponential", "linear"] = "exponential", early_stop_threshold: float | None = 4.0,
                update_attr: bool = True, plot_path: str | os.PathLike | None = "lr_find.png") -> LRFinderResult:
        """Sweep the learning rate from ``min_lr`` to ``max_lr`` over ``num_training`` steps; restore the model.

        Args:
            strategy: a finetuning strategy (``"freeze"``, ...) to sweep with, as ``trainer.finetune`` takes it.
            early_stop_threshold: stop once the smoothed loss exceeds this multiple of its best (None: never).
            update_attr: set the model's ``learning_rate`` (and its saved hyper-parameter) to the suggestion.
            plot_path: where to save the loss-vs-lr plot, relative to the trainer's ``default_root_dir``.

        Returns:
            The sweep's learning rates and losses, ``suggestion`` and ``plot_path``.
        """
        sweep = LRSweep(sweep_learning_rates(min_lr=min_lr, max_lr=max_lr, num_steps=num_training, mode=mode),
                        early_stop_threshold=early_stop_threshold)
        trial = self._trial_trainer(max_steps=num_training, callbacks=[sweep])
        with restored(model, optimizers=self.trainer.optimizers), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Non-finite loss")  # the sweep's end: expected
            _train(trial, model, train_dataloaders, datamodule, strategy)
        result = sweep.result
        result.suggestion = suggest_learning_rate(result.lrs, result.losses)
        if plot_path is not None and result.lrs:
            result.save_plot(Path(self.trainer.default_root_dir) / plot_path)
        if update_attr and result.suggestion is not None:
            set_learning_rate(model, result.suggestion)
            self._record(learning_rate=result.suggestion)
        return result

    def scale_batch_size(self, model: torch.nn.Module, *, datamodule: Any, strategy: Any = None,
                         mode: Literal["power", "binsearch"] = "binsearch", steps_per_trial: int = 3,
                         init_val: int = 2, max_trials: int = 25, margin: float = 0.1, max_val: int | None = None,
                         memory_budget: int | float | None = None) -> BatchSizeResult:
        """Set ``datamodule.batch_size`` to the largest that fits, less ``margin``; restore the model.

        Args:
            mode: ``"power"`` keeps the largest power of two that fits; ``"binsearch"`` bisects above it.
            steps_per_trial: training steps per tried size (at least 2, so the optimizer state exists).
            max_val: the largest size to try (default and cap: the training set's size).
            memory_budget: bytes one step may take, or a fraction (<= 1.0) of the RAM available now.
                Default: none on a GPU (out-of-memory errors decide), 0.5 on a CPU.

        Returns:
            The chosen ``batch_size``, the ``largest`` that fitted, and the measured memory per size.
        """
        if not isinstance(getattr(datamodule, "batch_size", None), int):
            raise ConfigurationError(f"scale_batch_size needs a datamodule with an int `batch_size`. "
                                     f"Received: datamodule={type(datamodule).__name__}")
        train = getattr(datamodule, "train_dataset", None)
        cap = len(train) if train is not None else None
        caps = [v for v in (max_val, cap) if v]
        on_cpu = self.trainer.accelerator == "cpu"
        budget = _budget(memory_budget, on_cpu=on_cpu)
        memory: dict[int, int] = {}

        def fits(size: int) -> bool:
            datamodule.batch_size = size
            used = self._memory_of_trial(model, datamodule, strategy, steps=max(2, steps_per_trial), on_cpu=on_cpu)
            if used is not None:
                memory[size] = used
            return used is not None and (budget is None or used <= budget)

        original = datamodule.batch_size
        try:
            result = search_batch_size(fits, init_val=init_val, max_val=min(caps) if caps else None,
                                       max_trials=max_trials, mode=mode, margin=margin)
        except BaseException:
            datamodule.batch_size = original
            raise
        result.memory, result.budget = memory, budget
        while cap and result.batch_size > 2 and cap % result.batch_size == 1:  # a last batch of 1 breaks BatchNorm
            result.batch_size -= 1
        datamodule.batch_size = result.batch_size
        self._record(batch_size=result.batch_size)
        return result

    def _memory_of_trial(self, model, datamodule, strategy, *, steps: int, on_cpu: bool) -> int | None:
        """Bytes a training step took at the datamodule's batch size; None when the device ran out of memory."""
        probe = MemoryProbe() if on_cpu else None
        trial = self._trial_trainer(max_steps=steps, callbacks=[probe] if probe else None)
        cuda = trial.accelerator == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(torch.device("cuda", self.trainer.device_indices[0]))
        out_of_memory = False
        try:
            with restored(model, optimizers=self.trainer.optimizers):
                _train(trial, model, None, datamodule, strategy)
        except Exception as err:  # noqa: BLE001 - re-raised unless it is an out-of-memory error
            if not is_out_of_memory(err):
                raise
            out_of_memory = True
        finally:
            if probe is not None:
                probe.close()
        if out_of_memory:  # freed here, once the error and the frames it holds (with their tensors) are gone
            free_memory()
            return None
        if probe is not None:
            return probe.peak
        used = torch.cuda.max_memory_allocated(torch.device("cuda", self.trainer.device_indices[0])) if cuda else 0
        free_memory()
        return used


def _budget(memory_budget: int | float | None, *, on_cpu: bool) -> int | None:
    """Bytes a step may take: given, a fraction of the available RAM, or (GPU, none given) no budget."""
    if memory_budget is None and not on_cpu:
        return None
    fraction = 0.5 if memory_budget is None else memory_budget
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or fraction <= 0:
        raise ConfigurationError(f"memory_budget must be bytes (an int > 1) or a fraction of the available RAM "
                                 f"in (0, 1]. Received: memory_budget={memory_budget!r}")
    if fraction > 1:
        return int(fraction)
    available = available_memory()
    if available is None:
        raise ConfigurationError("Cannot tell how much RAM is available on this platform; pass memory_budget "
                                 "in bytes. Received: memory_budget=None")
    return int(available * fraction)
