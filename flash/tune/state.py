"""Take everything a trial run changes and put it back bitwise: weights, buffers, trainability, optimizer state.

The finders train for real (that is the only honest way to see the loss at a learning rate, or the memory a
batch takes), so they run inside :func:`restored`, which snapshots what training touches and restores it after,
even when the trial raised (an out-of-memory error, say).

Example:
    >>> with restored(model, optimizers=trainer.optimizers):  # doctest: +SKIP
    ...     trial_trainer.fit(model, datamodule=datamodule)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from flash.core.metrics import Metric
from flash.engine.seed import rng_state, set_rng_state


def _cpu_copy(value: Any) -> Any:
    """A deep copy of a state dict whose tensors live on the CPU (the device may be what ran out)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(v) for v in value)
    return value


def _reset_metrics(model: torch.nn.Module) -> None:
    """Forget what the trial fed the metrics (flash's or torchmetrics': their state is not in the state dict)."""
    for module in model.modules():
        if isinstance(module, Metric) or _is_torchmetrics_metric(module):
            module.reset()


def _is_torchmetrics_metric(module: torch.nn.Module) -> bool:
    torchmetrics = sys.modules.get("torchmetrics")  # a user's torchmetrics metric: then it is imported already
    return torchmetrics is not None and isinstance(module, torchmetrics.Metric)


@contextlib.contextmanager
def restored(model: torch.nn.Module, *, optimizers: Sequence[torch.optim.Optimizer] = ()) -> Iterator[None]:
    """Run the body, then restore ``model`` and ``optimizers`` exactly as they were before it.

    Restored: every parameter and buffer (values, dtype, device: bitwise equal), ``requires_grad`` flags
    (a finetuning strategy freezes layers), train/eval mode of every submodule, the learning rate attribute,
    the state of each optimizer given, and the random number generators (so a later fit draws the same
    batches and dropout masks as it would have without the trial). Metric accumulators are reset.
    """
    named = list(model.named_parameters()) + list(model.named_buffers())
    placement = {name: (t.dtype, t.device) for name, t in named}
    weights = _cpu_copy(model.state_dict())
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    modes = {name: m.training for name, m in model.named_modules()}
    learning_rate = getattr(model, "learning_rate", None)
    frozen_bn = list(vars(model).get("_frozen_bn_eval", []))  # Task: BatchNorm layers a strategy keeps in eval
    optimizer_states = [_cpu_copy(o.state_dict()) for o in optimizers]
    rng = rng_state()
    try:
        yield
    finally:
        with torch.no_grad():
            for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
                dtype, device = placement.get(name, (tensor.dtype, tensor.device))
                if (tensor.dtype, tensor.device) != (dtype, device):
                    tensor.data = tensor.data.to(device=device, dtype=dtype)
            model.load_state_dict(weights)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(trainable.get(name, parameter.requires_grad))
        for name, module in model.named_modules():
            module.training = modes.get(name, module.training)
        if learning_rate is not None:
            model.learning_rate = learning_rate
        if "_frozen_bn_eval" in vars(model):
            model._frozen_bn_eval = frozen_bn  # type: ignore[assignment]  # nn.Module attribute typing
        for optimizer, state in zip(optimizers, optimizer_states):
            optimizer.load_state_dict(state)
        _reset_metrics(model)
        set_rng_state(rng)
