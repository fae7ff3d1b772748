"""What ``self.log`` records: per-step values and batch-size weighted epoch means.

Epoch means are reduced across processes as sums and counts, so uneven shards give the
exact dataset mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch


def _to_float_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"self.log needs a scalar; got a tensor of shape {tuple(value.shape)}.")
        value = value.detach()
        if value.dtype == torch.float32 and value.ndim == 0:
            return value  # already what the conversions below would give; skipping them is cheaper
        return value.float().reshape(())
    if hasattr(value, "compute") and callable(value.compute):  # a torchmetrics Metric
        return _to_float_tensor(value.compute())
    try:
        return torch.tensor(float(value))
    except (TypeError, ValueError):
        raise ValueError(f"self.log needs a number or a scalar tensor. Received: value={value!r}") from None


@dataclass
class LoggedResults:
    """The metrics logged during one stage's epoch."""

    step_values: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)  # batch-size weighted, in float64 (Python floats)
    counts: dict[str, float] = field(default_factory=dict)
    prog_bar: set[str] = field(default_factory=set)
    sync: set[str] = field(default_factory=set)

    def add(self, name: str, value: Any, on_step: bool, on_epoch: bool, prog_bar: bool,
            batch_size: int | None, sync_dist: bool, reduce_fn=None) -> None:
        if on_step and not (on_epoch or prog_bar) and reduce_fn is None and type(value) is torch.Tensor:
            # a training step's loss: read once, no detached copy (a multi-element or integer tensor
            # takes the general path below, which explains what is wrong or converts it)
            try:
                item = value.item()
            except RuntimeError:
                item = None
            if type(item) is float:
                self.step_values[name] = item
                return
        tensor = _to_float_tensor(value)
        item = None  # the value on the host, read from the tensor at most once
        if on_step:
            if sync_dist and reduce_fn is not None:
                both = reduce_fn(torch.stack([tensor.cpu(), torch.tensor(1.0)]))
                self.step_values[name] = float(both[0] / both[1])
            else:
                self.step_values[name] = item = float(tensor)
        if on_epoch:
            self.sums[name] = self.sums.get(name, 0.0) + (float(tensor) if item is None else item) * batch_size
            self.counts[name] = self.counts.get(name, 0.0) + batch_size
        if prog_bar:
            self.prog_bar.add(name)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint saved mid-epoch needs to finish the epoch's means exactly."""
        return {"step_values": dict(self.step_values), "sums": dict(self.sums), "counts": dict(self.counts),
                "prog_bar": sorted(self.prog_bar)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LoggedResults:
        sums = {name: float(value) for name, value in state["sums"].items()}  # earlier checkpoints hold tensors
        return cls(step_values=dict(state["step_values"]), sums=sums, counts=dict(state["counts"]),
                   prog_bar=set(state["prog_bar"]))

    def epoch_means(self, reduce_fn=None) -> dict[str, float]:
        """Weighted means of everything logged on_epoch, summed over processes when ``reduce_fn`` is given."""
        if not self.sums:
            return {}
        names = sorted(self.sums)
        values = [self.sums[n] for n in names] + [float(self.counts[n]) for n in names]
        packed = torch.tensor(values, dtype=torch.float64)
        if reduce_fn is not None:
            packed = reduce_fn(packed)
        k = len(names)
        return {n: (float(packed[i] / packed[k + i]) if packed[k + i] > 0 else math.nan) for i, n in enumerate(names)}


@dataclass
class LogTarget:
    """Where ``self.log`` writes now: the running stage's ``results``; per step (``per_step``: in the training
    batch loop) or per epoch by default; ``batch`` is the current batch, whose size weighs epoch means."""

    results: LoggedResults = field(default_factory=LoggedResults)
    per_step: bool = False
    batch: Any = None


def batch_size_of(batch: Any) -> int:
    """Best guess at the number of samples in a batch (first tensor / list found)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, dict):
        for value in batch.values():
            return batch_size_of(value)
    if isinstance(batch, (list, tuple)) and batch:
        first = batch[0]
        if isinstance(first, (torch.Tensor, dict, list, tuple)):
            return batch_size_of(first)
        return len(batch)
    return 1
