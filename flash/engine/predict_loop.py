"""The predict loop: batches through ``predict_step``; with several processes, predictions back in dataset order."""

from __future__ import annotations

from typing import Any

import torch

from flash.engine.checkpoint import restore_state
from flash.engine.evaluation import loader_from, model_batches, setup_module
from flash.engine.run import RunContext
from flash.errors import ConfigurationError
from flash.fabric import data as engine_data


def _split(output: Any) -> list:
    if isinstance(output, torch.Tensor):
        return list(output.unbind(0)) if output.ndim else [output]
    if isinstance(output, (list, tuple)):
        return list(output)
    raise ConfigurationError(
        "With several processes, predict_step must return a tensor or a list (one item per sample) so "
        f"predictions can be put back in dataset order. Received: {type(output).__name__}"
    )


def run_predict(run: RunContext, loaders, datamodule, output, return_predictions, ckpt_path) -> list | None:
    trainer, model, hooks = run.trainer, run.model, run.hooks
    loader = loader_from("predict", loaders, datamodule)
    if loader is None:
        raise ConfigurationError("predict() needs data: pass dataloaders=... or a datamodule with predict data.")
    if output is not None and not callable(getattr(model, "format_predictions", None)):
        raise ConfigurationError(f"output={output!r} needs {type(model).__name__}.format_predictions(outputs, output).")
    loader = run.prepare_loader(loader, train=False)
    limit = run.limit(loader, trainer.settings.limit_predict_batches)
    setup_module(run, training=False)
    hooks.call("setup", "predict")
    if ckpt_path is not None:
        restore_state(run, ckpt_path, full=False)
    model.eval()
    hooks.call("on_predict_start")
    predictions: list = []
    step, batch_end_hooks = run.step_runner("predict_step"), hooks.methods("on_predict_batch_end")
    with torch.no_grad():
        for batch_idx, batch in model_batches(run, loader, limit):
            out = step(batch, batch_idx)
            if output is not None:
                out = model.format_predictions(out, output)
            for hook in batch_end_hooks:
                hook(out, batch, batch_idx)
            if return_predictions:
                predictions.append(out)
    hooks.call("on_predict_end")
    hooks.call("teardown", "predict")
    if trainer.world_size > 1 and return_predictions:
        predictions = _gather_in_order(trainer, loader, predictions)
    return predictions if return_predictions else None


def _gather_in_order(trainer, loader, predictions: list) -> list:
    indices = engine_data.sample_indices(loader)
    if indices is None:
        raise ConfigurationError("Distributed predict needs a map-style dataset in a plain DataLoader.")
    items = [item for batch in predictions for item in _split(batch)]
    pairs = list(zip(indices, items))
    gathered = (pair for part in trainer.strategy.all_gather_object(pairs) for pair in part)
    everything = sorted(gathered, key=lambda p: p[0])
    ordered = [item for _, item in everything]
    size = loader.batch_size or 1
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    if predictions and isinstance(predictions[0], torch.Tensor):
        return [torch.stack(b) for b in batches]
    return batches
