"""The loops the Trainer runs: fit (train + periodic validation) and evaluate; predict is in predict_loop.

They read top to bottom; gradient accumulation is the visible inner window.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import torch

from flash.engine import data as engine_data
from flash.engine.checkpoint import restore_state
from flash.engine.optim import parse_optimizers, step_schedulers
from flash.engine.results import LoggedResults
from flash.engine.seed import global_seed, set_rng_state
from flash.errors import ConfigurationError


def _loader_from(stage: str, loaders: Any, datamodule: Any) -> Any:
    if loaders is not None:
        return loaders
    if datamodule is None:
        return None
    method = getattr(datamodule, f"{stage}_dataloader", None)
    return method() if callable(method) else None


def _setup_module(trainer, model: torch.nn.Module, *, training: bool) -> None:
    trainer.precision.convert_module(model)
    if training:
        trainer._wrapped = trainer.strategy.wrap(model)
    else:
        model.to(trainer.device)
    trainer._trainable = tuple(p.requires_grad for p in model.parameters())


def _rewrap_if_trainable_changed(trainer, model) -> None:
    """DDP fixes its parameter set at wrap time; re-wrap when a finetuning callback (un)froze layers."""
    trainable = tuple(p.requires_grad for p in model.parameters())
    if trainer.world_size > 1 and trainable != trainer._trainable:
        trainer._wrapped = trainer.strategy.wrap(model)
        trainer._trainable = trainable


# ---------------------------------------------------------------------------------------- fit
def run_fit(trainer, model, train_loaders, val_loaders, datamodule, ckpt_path) -> None:
    s = trainer.settings
    train_loader = _loader_from("train", train_loaders, datamodule)
    if train_loader is None:
        raise ConfigurationError("fit() needs training data: pass train_dataloaders=... or datamodule=... with a train set.")
    val_loader = _loader_from("val", val_loaders, datamodule)
    train_loader = trainer._prepare_loader(train_loader, train=True)
    val_loader = trainer._prepare_loader(val_loader, train=False) if val_loader is not None else None
    trainer.num_training_batches = trainer._limit(train_loader, s.limit_train_batches)
    trainer.num_val_batches = trainer._limit(val_loader, s.limit_val_batches) if val_loader is not None else 0

    model.train()
    _setup_module(trainer, model, training=True)
    for callback in getattr(model, "configure_callbacks", lambda: [])() or []:
        if all(type(callback) is not type(c) for c in trainer._extra_callbacks):
            trainer._extra_callbacks.append(callback)
    trainer.optimizers, trainer.lr_scheduler_configs = parse_optimizers(model.configure_optimizers())
    if len(trainer.optimizers) != 1:
        raise ConfigurationError(
            f"flash.Trainer steps one optimizer, but configure_optimizers() returned {len(trainer.optimizers)}. "
            "Put the parameters in one optimizer with several param groups (one lr each)."
        )
    trainer.current_epoch = trainer.global_step = trainer._batches_seen = 0
    trainer._val_pending, trainer._resume_results, trainer._window_finite = False, None, True
    trainer.should_stop = False
    trainer._call("setup", "fit")
    if ckpt_path is not None:
        restore_state(trainer, ckpt_path, full=True)
    if trainer.is_global_zero:
        hparams = getattr(model, "hparams", None)
        for logger in trainer.loggers:
            logger.log_hyperparams(dict(hparams) if isinstance(hparams, dict) else {})
    trainer._call("on_fit_start")
    if val_loader is not None and s.num_sanity_val_steps and trainer.num_val_batches:
        trainer.sanity_checking = True
        _evaluate(trainer, model, "validation", val_loader, min(s.num_sanity_val_steps, trainer.num_val_batches))
        trainer.sanity_checking = False
    if trainer._resume_rng is not None:
        set_rng_state(trainer._resume_rng)
        trainer._resume_rng = None
    trainer._start_time = time.monotonic()
    trainer._call("on_train_start")
    while not _fit_done(trainer):
        _train_epoch(trainer, model, train_loader, val_loader)
        if trainer._epoch_finished:
            trainer.current_epoch, trainer._batches_seen, trainer._epoch_finished = trainer.current_epoch + 1, 0, False
    trainer._call("on_train_end")
    trainer._call("on_fit_end")
    trainer._call("teardown", "fit")
    trainer.strategy.barrier()
    trainer.strategy.teardown()


def _time_up(trainer) -> bool:
    limit = trainer.settings.max_time
    return limit is not None and time.monotonic() - trainer._start_time >= limit


def _fit_done(trainer) -> bool:
    s = trainer.settings
    if s.max_steps != -1 and trainer.global_step >= s.max_steps:
        return True
    if trainer.should_stop and trainer.current_epoch >= s.min_epochs:
        return True
    if _time_up(trainer):
        return True
    return s.max_epochs != -1 and trainer.current_epoch >= s.max_epochs


def _validation_schedule(trainer, total: float) -> tuple[int, bool]:
    """When this epoch validates: after every ``every``-th batch (0: never by count), and/or after its last batch."""
    s = trainer.settings
    n_epoch = s.check_val_every_n_epoch
    if not trainer.num_val_batches or (n_epoch and (trainer.current_epoch + 1) % n_epoch):
        return 0, False
    if isinstance(s.val_check_interval, float):
        if s.val_check_interval == 1.0 or not math.isfinite(total):
            return 0, True
        return max(1, int(total * s.val_check_interval)), True
    return s.val_check_interval, False


def _start_train_epoch(trainer, model, train_loader, val_loader) -> tuple[Any, int, int]:
    """Reshuffle, arrange to skip what a resumed epoch already saw, run the epoch-start hooks.

    Returns what to iterate, the first batch index, and how many batches to drop by hand.
    """
    engine_data.set_epoch(train_loader, trainer.current_epoch, global_seed())
    start = trainer._batches_seen
    to_skip = engine_data.skip_samples(train_loader, start)
    trainer._epoch_finished = False
    resumed = trainer._resume_results if start else None  # a mid-epoch resume carries on the epoch's metric sums
    trainer._results, trainer._resume_results = LoggedResults.from_state(resumed) if resumed else LoggedResults(), None
    model.train()
    trainer._call("on_train_epoch_start")
    _rewrap_if_trainable_changed(trainer, model)
    if trainer._val_pending:  # resumed from a checkpoint saved after a batch but before its validation
        _validate(trainer, model, val_loader)
    batches = () if _stop_mid_epoch(trainer) else train_loader  # that validation may have stopped training
    return batches, start, to_skip


def _train_epoch(trainer, model, train_loader, val_loader) -> None:
    """One epoch of training steps. Everything that cannot change within the epoch is decided before
    the first batch: a step's own cost is a few microseconds above the model's, which shows on small models."""
    s = trainer.settings
    total, k = trainer.num_training_batches, s.accumulate_grad_batches
    optimizer = trainer.optimizers[0]
    batches, start, to_skip = _start_train_epoch(trainer, model, train_loader, val_loader)
    trainer._reset_hooks()  # a callback may have added or removed callbacks since the last epoch
    batch_start_hooks, batch_end_hooks = trainer._hooks("on_train_batch_start"), trainer._hooks("on_train_batch_end")
    before_step_hooks = trainer._hooks("on_before_optimizer_step")
    move, step = trainer._batch_mover(), trainer._step_runner("training_step")
    val_every, val_at_end = _validation_schedule(trainer, total) if val_loader is not None else (0, False)
    limited = s.max_steps != -1 or s.max_time is not None
    # a loader that cannot skip by index drops already-seen batches here; a limit ends the epoch early
    batches = itertools.islice(batches, to_skip, None if math.isinf(total) else to_skip + int(total) - start)
    batch_idx = start - 1
    trainer._log_on_step = True  # self.log in the step and batch hooks: per step (at the epoch's start/end: per epoch)
    for batch_idx, batch in enumerate(batches, start):
        if move is not None:
            batch = move(batch)
        trainer._current_batch = batch
        for hook in batch_start_hooks:
            hook(batch, batch_idx)
        window, closes_window = 1, True
        if k > 1:  # the accumulation window this batch belongs to; a final partial one is averaged over its real size
            window_start = (batch_idx // k) * k
            window = int(min(k, total - window_start)) if math.isfinite(total) else k
            closes_window = batch_idx + 1 - window_start == window
        if closes_window:
            output, loss, value = _forward_backward(trainer, step, batch, batch_idx, window)
            _optimizer_step(trainer, optimizer, before_step_hooks)
        else:  # inside a window DDP skips the gradient all-reduce
            with trainer.strategy.no_backward_sync(trainer._wrapped, enabled=True):
                output, loss, value = _forward_backward(trainer, step, batch, batch_idx, window)
            trainer._optimizer_stepped = False
        trainer._batches_seen = done = batch_idx + 1
        _record_step_metrics(trainer, loss, value)
        # pending while on_train_batch_end runs, so a checkpoint saved there resumes with this validation
        trainer._val_pending = (val_every > 0 and done % val_every == 0) or (val_at_end and done == total)
        for hook in batch_end_hooks:
            hook(output, batch, batch_idx)
        if trainer._val_pending:
            _validate(trainer, model, val_loader)
        if (trainer.should_stop or limited) and _stop_mid_epoch(trainer):
            break
    trainer._current_batch, trainer._log_on_step = None, False
    trainer._epoch_finished = trainer._batches_seen >= total or (math.isinf(total) and batch_idx >= start)
    _end_train_epoch(trainer)


def _forward_backward(trainer, step, batch, batch_idx: int, window: int) -> tuple[Any, torch.Tensor | None, float | None]:
    """Run the training step and backpropagate its loss (divided by the window's size when accumulating).

    Returns the step's output, its loss, and the loss read on the host (None for a multi-element loss).
    """
    output = step(batch, batch_idx)
    loss = output if type(output) is torch.Tensor else _loss(output)
    if loss is None:
        return output, None, None
    results = trainer._results
    logged, results.last_scalar = results.last_scalar, None
    if logged is not None and logged[0] is loss:  # self.log("train_loss", loss) already read it
        value = logged[1]
    else:
        value = loss.item() if loss.numel() == 1 else None  # read once: the finiteness check, the bar
    if value is None or not math.isfinite(value):
        # a non-finite loss raises, or (on_nonfinite_loss="skip") drops this window's optimizer step
        trainer._window_finite &= trainer._check_finite(loss, value)
    trainer.precision.backward(loss if window == 1 else loss / window)  # x / 1 == x: skip the op
    return output, loss, value


def _record_step_metrics(trainer, loss: torch.Tensor | None, value: float | None) -> None:
    """The bar's loss and ``prog_bar`` values; after an optimizer step, what was logged goes to the loggers."""
    results = trainer._results
    if loss is not None:
        trainer.progress_bar_metrics["loss"] = value if value is not None else float(loss.detach().float().mean())
    step_values = results.step_values
    if results.prog_bar:
        trainer.progress_bar_metrics.update({n: step_values[n] for n in results.prog_bar if n in step_values})
    if trainer._optimizer_stepped and step_values:
        trainer.callback_metrics.update(step_values)
        trainer.log_metrics(step_values, step=trainer.global_step, every_n=True)  # it copies what it keeps


def _validate(trainer, model, val_loader) -> None:
    trainer._val_pending = False
    if val_loader is not None:
        _evaluate(trainer, model, "validation", val_loader, trainer.num_val_batches)
        model.train()


def _loss(output: Any) -> torch.Tensor | None:
    if output is None or isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) and "loss" in output:
        return output["loss"]
    raise ConfigurationError(
        f"training_step must return the loss tensor, a dict with a 'loss' key, or None. Received: {type(output).__name__}"
    )


def _optimizer_step(trainer, optimizer, before_step_hooks: list) -> None:
    """Clip, step and zero the gradients at the end of an accumulation window; step per-step schedulers."""
    s = trainer.settings
    # whether every loss of the window was finite, on every process
    finite, trainer._window_finite = trainer._window_finite, True
    if s.on_nonfinite_loss == "skip" and trainer.world_size > 1:
        finite = bool(trainer.strategy.all_reduce_sum(torch.tensor(float(not finite))) == 0)
    trainer._optimizer_stepped = finite
    if not finite:
        optimizer.zero_grad(set_to_none=True)
        return
    if s.gradient_clip_val is not None:
        trainer.precision.unscale(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if s.gradient_clip_algorithm == "norm":
            torch.nn.utils.clip_grad_norm_(params, s.gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(params, s.gradient_clip_val)
    for hook in before_step_hooks:
        hook(optimizer)
    stepped = trainer.precision.step(optimizer)
    optimizer.zero_grad(set_to_none=True)
    if stepped:
        trainer.global_step += 1
        if trainer.lr_scheduler_configs:
            step_schedulers(trainer.lr_scheduler_configs, "step", trainer.global_step, trainer.callback_metrics)


def _stop_mid_epoch(trainer) -> bool:
    s = trainer.settings
    return (s.max_steps != -1 and trainer.global_step >= s.max_steps) or _time_up(trainer) or (
        trainer.should_stop and trainer.current_epoch >= s.min_epochs
    )


def _end_train_epoch(trainer) -> None:
    model_hook = getattr(trainer._model, "on_train_epoch_end", None)
    if callable(model_hook):
        model_hook()  # before the epoch means, so what it logs is part of them
    results = trainer._results
    trainer.callback_metrics.update(results.step_values)  # the last batch's, with what its batch-end hooks logged
    reduce_fn = trainer.strategy.all_reduce_sum if trainer.world_size > 1 else None
    means = results.epoch_means(reduce_fn)
    renamed = {(f"{n}_epoch" if n in results.step_values else n): v for n, v in means.items()}
    trainer.callback_metrics.update(renamed)
    if trainer._epoch_finished:
        step_schedulers(trainer.lr_scheduler_configs, "epoch", trainer.current_epoch + 1, trainer.callback_metrics)
    for callback in trainer._all_callbacks:
        callback.on_train_epoch_end(trainer, trainer._model)
    trainer.log_metrics(renamed, step=trainer.global_step)


# ---------------------------------------------------------------------------------------- evaluate
def model_batches(trainer, loader, limit: float):
    """``(batch_idx, batch)`` for the loader's first ``limit`` batches, each as the model takes it (dtype, device)."""
    move = trainer._batch_mover()
    try:
        for batch_idx, batch in enumerate(loader):
            if batch_idx >= limit:
                return
            if move is not None:
                batch = move(batch)
            trainer._current_batch = batch  # self.log's default batch size is read from it
            yield batch_idx, batch
    finally:
        trainer._current_batch = None


_STEP = {"validation": "validation_step", "test": "test_step"}


def _evaluate(trainer, model, stage: str, loader, limit: float) -> dict[str, float]:
    step_name = _STEP[stage]
    if not callable(getattr(model, step_name, None)):
        raise ConfigurationError(f"{type(model).__name__} has no {step_name}(batch, batch_idx); it cannot be {stage}-evaluated.")
    outer_results, was_training, outer_per_step = trainer._results, model.training, trainer._log_on_step
    trainer._results, trainer._log_on_step = LoggedResults(), False
    model.eval()
    trainer._call(f"on_{stage}_start")
    trainer._call(f"on_{stage}_epoch_start")
    batches = 0
    step, batch_end_hooks = trainer._step_runner(step_name), trainer._hooks(f"on_{stage}_batch_end")
    with torch.no_grad():
        for batch_idx, batch in model_batches(trainer, loader, limit):
            output = step(batch, batch_idx)
            batches += 1
            for hook in batch_end_hooks:
                hook(output, batch, batch_idx)
        _pad_collective_steps(trainer, step, batches, loader)
    model_hook = getattr(model, f"on_{stage}_epoch_end", None)
    if callable(model_hook):
        model_hook()  # before the epoch means, so what it logs is part of them
    metrics: dict[str, float] = {}
    if not trainer.sanity_checking:
        metrics = trainer._results.epoch_means(trainer.strategy.all_reduce_sum if trainer.world_size > 1 else None)
        trainer.callback_metrics.update(metrics)
        # prog_bar=True metrics of a validation show in the training bar (its epoch-end redraw)
        trainer.progress_bar_metrics.update({n: v for n, v in metrics.items() if n in trainer._results.prog_bar})
        trainer.log_metrics(metrics, step=trainer.global_step)
    for callback in trainer._all_callbacks:
        getattr(callback, f"on_{stage}_epoch_end")(trainer, model)
    trainer._call(f"on_{stage}_end")
    trainer._results, trainer._log_on_step = outer_results, outer_per_step
    model.train(was_training)
    return metrics


def _pad_collective_steps(trainer, step, batches: int, loader) -> None:
    """FSDP's forward is a collective: ranks with fewer batches repeat a step whose results are dropped."""
    if trainer.strategy.name != "fsdp" or trainer.world_size == 1:
        return
    counts = trainer.strategy.all_gather_object(batches)
    missing = max(counts) - batches
    if missing:
        sample = trainer._to_device(next(iter(loader)))
        saved = trainer._results
        trainer._results = LoggedResults()
        for _ in range(missing):
            step(sample, 0)
        trainer._results = saved


def run_evaluate(trainer, model, stage: str, loaders, datamodule, ckpt_path) -> list[dict[str, float]]:
    name = "val" if stage == "validate" else "test"
    loader = _loader_from(name, loaders, datamodule)
    if loader is None:
        raise ConfigurationError(f"{stage}() needs data: pass dataloaders=... or a datamodule with a {name} set.")
    loader = trainer._prepare_loader(loader, train=False)
    limit = trainer._limit(loader, getattr(trainer.settings, f"limit_{name}_batches"))
    _setup_module(trainer, model, training=False)
    trainer._call("setup", stage)
    if ckpt_path is not None:
        restore_state(trainer, ckpt_path, full=False)
    metrics = _evaluate(trainer, model, "validation" if stage == "validate" else "test", loader, limit)
    trainer._call("teardown", stage)
    return [metrics]
