"""The fit loop: train, validate now and then, stop when ``FitState.done`` says so.

Read it top to bottom: ``run_fit`` sets up and runs epochs; ``_train_epoch`` runs the batches,
gradient accumulation being the visible window of ``_train_epoch``; where the loop is lives in
one ``FitState`` (``trainer.fit_state``). What the run shares (model, callbacks, hooks, the strategy's training
wrapper, where ``self.log`` writes) is the ``RunContext`` the Trainer passes in (``run.py``). Evaluation is in
``evaluation.py``, predict in ``predict_loop.py``.
"""

from __future__ import annotations

import itertools
import math
import signal
import time
from typing import Any

import torch

from flash.engine.checkpoint import restore_state, save_last
from flash.engine.evaluation import evaluate, loader_from, setup_module
from flash.engine.interrupt import (
    StopRequest,
    TrainingInterrupted,
    exit_code,
    print_stop_message,
    requeue_if_slurm,
    stop_message,
)
from flash.engine.optim import parse_optimizers, step_schedulers
from flash.engine.results import LoggedResults, LogTarget
from flash.engine.run import RunContext
from flash.engine.state import FitState
from flash.errors import ConfigurationError
from flash.fabric import data as engine_data
from flash.fabric.seed import global_seed, recorded_seed, set_rng_state


def run_fit(run: RunContext, train_loaders, val_loaders, datamodule, ckpt_path) -> None:
    """Fit ``run.model``; SIGTERM / SIGINT / SIGUSR1 stop it with a resumable checkpoint (see ``interrupt.py``)."""
    stop = StopRequest(deadline=None)
    with stop.installed():
        _run_fit(run, train_loaders, val_loaders, datamodule, ckpt_path, stop)


def _run_fit(run: RunContext, train_loaders, val_loaders, datamodule, ckpt_path, stop: StopRequest) -> None:
    trainer, model, hooks = run.trainer, run.model, run.hooks
    s = trainer.settings
    train_loader, val_loader = _fit_loaders(run, train_loaders, val_loaders, datamodule)
    model.train()
    setup_module(run, training=True)
    run.add_model_callbacks()  # for this run only: the next fit asks its own model
    optimizer = _configure_optimizer(trainer, model)
    state = trainer.fit_state = FitState()
    hooks.call("setup", "fit")
    resume_rng = restore_state(run, ckpt_path, full=True) if ckpt_path is not None else None
    if trainer.is_global_zero:
        _log_hyperparams(trainer, model)
    hooks.call("on_fit_start")
    if val_loader is not None and s.num_sanity_val_steps and trainer.num_val_batches:
        trainer.sanity_checking = True
        try:
            evaluate(run, "validation", val_loader, min(s.num_sanity_val_steps, trainer.num_val_batches))
        finally:
            trainer.sanity_checking = False
    if resume_rng is not None:
        set_rng_state(resume_rng)
    state.start_time = time.monotonic()
    stop.deadline = None if s.max_time is None else state.start_time + s.max_time
    hooks.call("on_train_start")
    while not state.done(s):
        _train_epoch(run, optimizer, train_loader, val_loader, stop)
        if stop.signum is not None:
            _stop_on_signal(trainer, stop)
        if state.epoch_finished:
            state.next_epoch()
    if state.time_up:  # max_time ends with the same resumable checkpoint a signal writes
        save_last(trainer)
    hooks.call("on_train_end")
    hooks.call("on_fit_end")
    hooks.call("teardown", "fit")
    trainer.strategy.barrier()
    trainer.strategy.teardown()


def _log_hyperparams(trainer, model) -> None:
    """The model's hparams, and the seed of ``seed_everything`` when one was set, go to every logger."""
    hparams = getattr(model, "hparams", None)
    params = dict(hparams) if isinstance(hparams, dict) else {}
    seed = recorded_seed()
    if seed is not None:
        params.setdefault("seed", seed)
    for logger in trainer.loggers:
        logger.log_hyperparams(params)


def _stop_on_signal(trainer, stop: StopRequest) -> None:
    """Save ``last.ckpt`` where the loop stopped (every process takes part), tell how to resume, and exit."""
    path = save_last(trainer)
    message = stop_message(trainer, stop, path)
    number = stop.signum or 0
    if trainer.is_global_zero:
        message += requeue_if_slurm(number)
        print_stop_message(message)
    signum = number if number > 0 else signal.SIGTERM
    raise TrainingInterrupted(message, signal_name=stop.signal_name, checkpoint=path, code=exit_code(signum))


def _fit_loaders(run: RunContext, train_loaders, val_loaders, datamodule) -> tuple[Any, Any]:
    """The training and validation loaders, prepared (sharded, resumable) and counted."""
    trainer = run.trainer
    s = trainer.settings
    train_loader = loader_from("train", train_loaders, datamodule)
    if train_loader is None:
        raise ConfigurationError(
            "fit() needs training data: pass train_dataloaders=... or datamodule=... with a train set."
        )
    val_loader = loader_from("val", val_loaders, datamodule)
    train_loader = run.prepare_loader(train_loader, train=True)
    val_loader = run.prepare_loader(val_loader, train=False) if val_loader is not None else None
    trainer.num_training_batches = run.limit(train_loader, s.limit_train_batches)
    trainer.num_val_batches = run.limit(val_loader, s.limit_val_batches) if val_loader is not None else 0
    return train_loader, val_loader


def _configure_optimizer(trainer, model) -> torch.optim.Optimizer:
    trainer.optimizers, trainer.lr_scheduler_configs = parse_optimizers(model.configure_optimizers())
    if len(trainer.optimizers) != 1:
        raise ConfigurationError(
            f"flash.Trainer steps one optimizer, but configure_optimizers() returned {len(trainer.optimizers)}. "
            "Put the parameters in one optimizer with several param groups (one lr each)."
        )
    return trainer.optimizers[0]


def _validation_schedule(trainer, total: float) -> tuple[int, bool]:
    """When this epoch validates: after every ``every``-th batch (0: never by count), and/or after its last batch."""
    s = trainer.settings
    n_epoch = s.check_val_every_n_epoch
    if not trainer.num_val_batches or (n_epoch and (trainer.fit_state.epoch + 1) % n_epoch):
        return 0, False
    if isinstance(s.val_check_interval, float):
        if s.val_check_interval == 1.0 or not math.isfinite(total):
            return 0, True
        return max(1, int(total * s.val_check_interval)), True
    return s.val_check_interval, False


def _start_train_epoch(run: RunContext, train_loader, val_loader) -> tuple[Any, int, int]:
    """Reshuffle, arrange to skip what a resumed epoch already saw, run the epoch-start hooks.

    Returns what to iterate, the first batch index, and how many batches to drop by hand.
    """
    trainer, model = run.trainer, run.model
    state = trainer.fit_state
    engine_data.set_epoch(train_loader, state.epoch, global_seed())
    start = state.batches_seen
    to_skip = engine_data.skip_samples(train_loader, start)
    if not start:  # a mid-epoch resume carries on the epoch's metric sums
        state.results = LoggedResults()
    run.logging = LogTarget(state.results)
    model.train()
    run.hooks.call("on_train_epoch_start")
    run.wrapped = trainer.strategy.rewrap(model, run.wrapped)  # a callback may have (un)frozen layers
    if state.val_pending:  # resumed from a checkpoint saved after a batch but before its validation
        _validate(run, val_loader)
    batches = () if state.done(trainer.settings) else train_loader  # that validation may have stopped training
    return batches, start, to_skip


def _train_epoch(run: RunContext, optimizer, train_loader, val_loader, stop: StopRequest) -> None:
    """One epoch of training steps. Everything that cannot change within the epoch is decided before
    the first batch: a step's own cost is a few microseconds above the model's, which shows on small models."""
    trainer, hooks = run.trainer, run.hooks
    s, state = trainer.settings, trainer.fit_state
    total, k = trainer.num_training_batches, s.accumulate_grad_batches
    batches, start, to_skip = _start_train_epoch(run, train_loader, val_loader)
    batch_start_hooks, batch_end_hooks = hooks.methods("on_train_batch_start"), hooks.methods("on_train_batch_end")
    before_step_hooks = hooks.methods("on_before_optimizer_step")
    move, step = run.batch_mover(), run.step_runner("training_step")
    val_every, val_at_end = _validation_schedule(trainer, total) if val_loader is not None else (0, False)
    limited = s.max_steps != -1 or s.max_time is not None
    # a loader that cannot skip by index drops already-seen batches here; a limit ends the epoch early
    iterator = iter(batches)
    batches = itertools.islice(iterator, to_skip, None if math.isinf(total) else to_skip + int(total) - start)
    unsized = math.isinf(engine_data.num_batches(train_loader))
    if unsized and trainer.world_size > 1:  # a stream's shares may end at different batches: end together
        batches = engine_data.while_all_have_one(batches, trainer.strategy.all_reduce)
    ran_out = False
    batch_idx, log = start - 1, run.logging
    log.per_step = True  # self.log in the step and batch hooks: per step (at the epoch's start/end: per epoch)
    with engine_data.explain_worker_death(iterator, stage="training"):
        for batch_idx, batch in enumerate(batches, start):
            if move is not None:
                batch = move(batch)
            log.batch = batch
            for hook in batch_start_hooks:
                hook(batch, batch_idx)
            window, closes_window = _window(batch_idx, k, total) if k > 1 else (1, True)
            if closes_window:
                output, loss, value = _forward_backward(run, step, batch, batch_idx, window)
                _optimizer_step(trainer, optimizer, before_step_hooks)
            else:  # inside a window DDP skips the gradient all-reduce
                with trainer.strategy.no_backward_sync(run.wrapped, enabled=True):
                    output, loss, value = _forward_backward(run, step, batch, batch_idx, window)
                state.optimizer_stepped = False
            state.batches_seen = done = batch_idx + 1
            _record_step_metrics(trainer, loss, value)
            # pending while on_train_batch_end runs, so a checkpoint saved there resumes with this validation
            state.val_pending = (val_every > 0 and done % val_every == 0) or (val_at_end and done == total)
            for hook in batch_end_hooks:
                hook(output, batch, batch_idx)
            if closes_window and stop.poll(trainer) and stop.signum is not None:
                break  # stop before the pending validation: the checkpoint says it is due, the resumed run does it
            if state.val_pending:
                _validate(run, val_loader)
            if (state.should_stop or limited) and state.done(s):
                break
        else:
            ran_out = batch_idx >= start  # the data ended, not a stop: a stream shorter than its limit too
    log.batch, log.per_step = None, False
    if stop.signum is not None:  # mid-epoch: the epoch ends in the resumed run
        return
    state.epoch_finished = state.batches_seen >= total or ran_out  # not when max_steps stopped it mid-stream
    _end_train_epoch(run)


def _window(batch_idx: int, k: int, total: float) -> tuple[int, bool]:
    """The size of the accumulation window ``batch_idx`` belongs to (a final partial one is averaged over its
    real size), and whether the batch closes it."""
    window_start = (batch_idx // k) * k
    window = int(min(k, total - window_start)) if math.isfinite(total) else k
    return window, batch_idx + 1 - window_start == window


def _forward_backward(
    run: RunContext, step, batch, batch_idx: int, window: int
) -> tuple[Any, torch.Tensor | None, float | None]:
    """Run the training step and backpropagate its loss (divided by the window's size when accumulating).

    Returns the step's output, its loss, and the loss read on the host (None for a multi-element loss).
    """
    output = step(batch, batch_idx)
    loss = output if type(output) is torch.Tensor else _loss(output)
    if loss is None:
        return output, None, None
    value = loss.item() if loss.numel() == 1 else None  # read once: the finiteness check, the bar
    if value is None or not math.isfinite(value):
        # a non-finite loss raises, or (on_nonfinite_loss="skip") drops this window's optimizer step
        run.trainer.fit_state.window_finite &= run.check_finite(loss, value)
    run.trainer.precision.backward(loss if window == 1 else loss / window)  # skipping x / 1 saves ~15 us a step
    return output, loss, value


def _loss(output: Any) -> torch.Tensor | None:
    if output is None or isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) and "loss" in output:
        return output["loss"]
    raise ConfigurationError(
        "training_step must return the loss tensor, a dict with a 'loss' key, or None. "
        f"Received: {type(output).__name__}"
    )


def _optimizer_step(trainer, optimizer, before_step_hooks: list) -> None:
    """Clip, step and zero the gradients at the end of an accumulation window; step per-step schedulers."""
    s, state = trainer.settings, trainer.fit_state
    # whether every loss of the window was finite, on every process
    finite, state.window_finite = state.window_finite, True
    if s.on_nonfinite_loss == "skip" and trainer.world_size > 1:
        finite = bool(trainer.strategy.all_reduce_sum(torch.tensor(float(not finite))) == 0)
    state.optimizer_stepped = finite
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
        state.global_step += 1
        if trainer.lr_scheduler_configs:
            step_schedulers(trainer.lr_scheduler_configs, "step", state.global_step, trainer.callback_metrics)


def _record_step_metrics(trainer, loss: torch.Tensor | None, value: float | None) -> None:
    """The bar's loss and ``prog_bar`` values; after an optimizer step, what was logged goes to the loggers."""
    results = trainer.fit_state.results
    if loss is not None:
        trainer.progress_bar_metrics["loss"] = value if value is not None else float(loss.detach().float().mean())
    step_values = results.step_values
    if results.prog_bar:
        trainer.progress_bar_metrics.update({n: step_values[n] for n in results.prog_bar if n in step_values})
    if trainer.fit_state.optimizer_stepped and step_values:
        trainer.callback_metrics.update(step_values)
        trainer.log_metrics(step_values, step=trainer.global_step, every_n=True)  # it copies what it keeps


def _validate(run: RunContext, val_loader) -> None:
    run.trainer.fit_state.val_pending = False
    if val_loader is not None:
        evaluate(run, "validation", val_loader, run.trainer.num_val_batches)
        run.model.train()


def _end_train_epoch(run: RunContext) -> None:
    """The epoch-end hooks; between the model's and the callbacks', the epoch's means and schedulers."""
    trainer = run.trainer
    state = trainer.fit_state

    def epoch_means() -> None:
        results = state.results
        trainer.callback_metrics.update(results.step_values)  # the last batch's, with what its batch-end hooks logged
        means = results.epoch_means(trainer.strategy.all_reduce_sum if trainer.world_size > 1 else None)
        renamed.update({(f"{n}_epoch" if n in results.step_values else n): v for n, v in means.items()})
        trainer.callback_metrics.update(renamed)
        if state.epoch_finished:
            step_schedulers(trainer.lr_scheduler_configs, "epoch", state.epoch + 1, trainer.callback_metrics)

    renamed: dict[str, float] = {}
    run.hooks.call("on_train_epoch_end", between=epoch_means)
    trainer.log_metrics(renamed, step=trainer.global_step)
