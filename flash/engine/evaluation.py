"""The evaluation loop (validate / test, and the fit loop's periodic validation), and what every loop shares:
finding the stage's loader, placing the model, and feeding it batches.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.engine.checkpoint import restore_state
from flash.engine.results import LoggedResults, LogTarget
from flash.engine.run import RunContext
from flash.errors import ConfigurationError
from flash.fabric.data import explain_worker_death


def loader_from(stage: str, loaders: Any, datamodule: Any) -> Any:
    """``loaders`` if given, else the datamodule's ``<stage>_dataloader()``, else None."""
    if loaders is not None:
        return loaders
    if datamodule is None:
        return None
    method = getattr(datamodule, f"{stage}_dataloader", None)
    return method() if callable(method) else None


def setup_module(run: RunContext, *, training: bool) -> None:
    """Convert the model to the precision's dtype and put it on the device (wrapped by the strategy to train)."""
    trainer, model = run.trainer, run.model
    trainer.precision.convert_module(model)
    if training:
        run.wrapped = trainer.strategy.wrap(model)
    else:
        model.to(trainer.device)


def model_batches(run: RunContext, loader, limit: float):
    """``(batch_idx, batch)`` for the loader's first ``limit`` batches, each as the model takes it (dtype, device)."""
    move, target = run.batch_mover(), run.logging
    iterator = iter(loader)
    try:
        with explain_worker_death(iterator, stage="evaluation"):
            for batch_idx, batch in enumerate(iterator):
                if batch_idx >= limit:
                    return
                if move is not None:
                    batch = move(batch)
                target.batch = batch  # self.log's default batch size is read from it
                yield batch_idx, batch
    finally:
        target.batch = None


_STEP = {"validation": "validation_step", "test": "test_step"}


def evaluate(run: RunContext, stage: str, loader, limit: float) -> dict[str, float]:
    """One pass of ``validation_step`` / ``test_step`` over ``loader``; returns (and records) the epoch means."""
    trainer, model = run.trainer, run.model
    step_name = _STEP[stage]
    if not callable(getattr(model, step_name, None)):
        raise ConfigurationError(
            f"{type(model).__name__} has no {step_name}(batch, batch_idx); it cannot be {stage}-evaluated."
        )
    hooks, was_training = run.hooks, model.training
    target = LogTarget()
    metrics: dict[str, float] = {}
    model.eval()
    try:
        with run.log_into(target):
            hooks.call(f"on_{stage}_start")
            hooks.call(f"on_{stage}_epoch_start")
            batches = 0
            step, batch_end_hooks = run.step_runner(step_name), hooks.methods(f"on_{stage}_batch_end")
            with torch.no_grad():
                for batch_idx, batch in model_batches(run, loader, limit):
                    output = step(batch, batch_idx)
                    batches += 1
                    for hook in batch_end_hooks:
                        hook(output, batch, batch_idx)
                _pad_collective_steps(run, step, batches, loader)

            def epoch_means() -> None:
                if not trainer.sanity_checking:
                    metrics.update(_record_means(trainer, target.results))

            hooks.call(f"on_{stage}_epoch_end", between=epoch_means)
            hooks.call(f"on_{stage}_end")
    finally:
        model.train(was_training)
    return metrics


def _record_means(trainer, results: LoggedResults) -> dict[str, float]:
    metrics = results.epoch_means(trainer.strategy.all_reduce_sum if trainer.world_size > 1 else None)
    trainer.callback_metrics.update(metrics)
    # prog_bar=True metrics of a validation show in the training bar (its epoch-end redraw)
    trainer.progress_bar_metrics.update({n: v for n, v in metrics.items() if n in results.prog_bar})
    trainer.log_metrics(metrics, step=trainer.global_step)
    return metrics


def _pad_collective_steps(run: RunContext, step, batches: int, loader) -> None:
    """When the strategy's forward is a collective (FSDP), ranks with fewer batches repeat a step whose results
    are dropped, so every rank runs as many forwards."""
    trainer = run.trainer
    if not trainer.strategy.forward_is_collective or trainer.world_size == 1:
        return
    counts = trainer.strategy.all_gather_object(batches)
    missing = max(counts) - batches
    if missing:
        sample = run.to_device(next(iter(loader)))
        with run.log_into(LogTarget()):
            for _ in range(missing):
                step(sample, 0)


def run_evaluate(run: RunContext, stage: str, loaders, datamodule, ckpt_path) -> list[dict[str, float]]:
    trainer = run.trainer
    name = "val" if stage == "validate" else "test"
    loader = loader_from(name, loaders, datamodule)
    if loader is None:
        raise ConfigurationError(f"{stage}() needs data: pass dataloaders=... or a datamodule with a {name} set.")
    loader = run.prepare_loader(loader, train=False)
    limit = run.limit(loader, getattr(trainer.settings, f"limit_{name}_batches"))
    setup_module(run, training=False)
    run.hooks.call("setup", stage)
    if ckpt_path is not None:
        restore_state(run, ckpt_path, full=False)
    metrics = evaluate(run, "validation" if stage == "validate" else "test", loader, limit)
    run.hooks.call("teardown", stage)
    return [metrics]
