"""Epoch metrics that cost nothing to import: ``Accuracy`` and ``F1Score`` (multiclass and multilabel).

A metric keeps counts (true/false positives and negatives per class) that ``update`` adds to each batch;
``compute`` sums them across processes (DDP) and turns them into the score, ``reset`` starts a new epoch.
They follow torchmetrics' API and its results (``torchmetrics.Accuracy(task=..., num_classes=...)``), so a
task's ``metrics=`` still takes torchmetrics metrics too; flash's defaults are these because importing
torchmetrics takes seconds (it pulls in scipy and matplotlib), which a short fine-tune pays on every run.

Example:
    >>> import torch
    >>> accuracy = Accuracy(task="multiclass", num_classes=3)
    >>> accuracy.update(torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]), torch.tensor([0, 2]))
    >>> float(accuracy.compute())
    0.5
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from flash.errors import ConfigurationError, DataError, invalid_choice

TASKS = ("multiclass", "multilabel")
AVERAGES = ("micro", "macro", "none")


class Metric(torch.nn.Module):
    """Base of flash's metrics: states are tensors registered with :meth:`add_state` (summed across processes
    by :meth:`compute`, zeroed by :meth:`reset`, never saved in checkpoints); subclasses write ``update`` and
    ``score(**states)``."""

    def __init__(self) -> None:
        super().__init__()
        self._defaults: dict[str, torch.Tensor] = {}
        self.update_count = 0  # how many batches this epoch: a metric never updated is not logged

    def add_state(self, name: str, default: torch.Tensor) -> None:
        self._defaults[name] = default
        self.register_buffer(name, default.clone(), persistent=False)

    def accumulate(self, **counts: torch.Tensor) -> None:
        """Add one batch's ``counts`` to the states of the same names."""
        for name, value in counts.items():
            getattr(self, name).add_(value)
        self.update_count += 1

    def reset(self) -> None:
        for name, default in self._defaults.items():
            setattr(self, name, default.to(getattr(self, name).device, copy=True))
        self.update_count = 0

    def compute(self) -> Any:
        """The score of everything seen since the last reset, on every process (states summed across them)."""
        return self.score(**self._synced_states())

    def score(self, *args: Any, **states: Any) -> Any:
        """The score (a tensor, or a dict of them) from the states summed across processes."""
        raise NotImplementedError(f"{type(self).__name__} must define score(**states).")

    def clone(self) -> Metric:
        return copy.deepcopy(self)

    def _synced_states(self) -> dict[str, torch.Tensor]:
        states = {name: getattr(self, name) for name in self._defaults}
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()
                and torch.distributed.get_world_size() > 1):
            return states
        synced = {}
        for name, state in states.items():
            synced[name] = state.clone()
            torch.distributed.all_reduce(synced[name])  # sum: every state is a count
        return synced


class _StatScores(Metric):
    """True/false positives and negatives per class (multiclass) or per label (multilabel)."""

    def __init__(self, task: str = "multiclass", *, num_classes: int | None = None, num_labels: int | None = None,
                 average: str = "micro", threshold: float = 0.5) -> None:
        super().__init__()
        if task not in TASKS:
            raise invalid_choice("task", task, TASKS)
        if average not in AVERAGES:
            raise invalid_choice("average", average, AVERAGES)
        size = num_classes if task == "multiclass" else num_labels
        if not isinstance(size, int) or size < 1:
            which = "num_classes" if task == "multiclass" else "num_labels"
            raise ConfigurationError(f"{type(self).__name__}(task={task!r}) needs {which}, a positive integer. "
                                     f"Received: {which}={size!r}")
        self.task, self.average, self.threshold, self.size = task, average, float(threshold), size
        for name in ("tp", "fp", "fn", "tn"):
            self.add_state(name, torch.zeros(size, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds``: probabilities or logits (a class axis last) or labels; ``target``: labels (0/1 per label)."""
        if self.task == "multiclass":
            self._update_multiclass(preds, target)
        else:
            self._update_multilabel(preds, target)

    def _update_multiclass(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        if preds.is_floating_point() and preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=-1)
        preds, target = preds.reshape(-1).long(), target.reshape(-1).long()
        if preds.shape != target.shape:
            raise DataError(f"{type(self).__name__}: predictions and targets differ in size. "
                            f"Received: preds of shape {tuple(preds.shape)}, target of shape {tuple(target.shape)}")
        _check_range(target, self.size, type(self).__name__)
        n = self.size
        tp = torch.bincount(target[preds == target], minlength=n)
        predicted, actual = torch.bincount(preds.clamp(0, n - 1), minlength=n), torch.bincount(target, minlength=n)
        fp, fn = predicted - tp, actual - tp
        self.accumulate(tp=tp, fp=fp, fn=fn, tn=target.numel() - tp - fp - fn)

    def _update_multilabel(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        if preds.shape != target.shape or preds.shape[-1] != self.size:
            raise DataError(f"{type(self).__name__}: multilabel predictions and targets must both be "
                            f"(batch, {self.size}). Received: preds of shape {tuple(preds.shape)}, "
                            f"target of shape {tuple(target.shape)}")
        predicted = (preds > self.threshold) if preds.is_floating_point() else preds.bool()
        actual = target.bool()
        predicted, actual = predicted.reshape(-1, self.size), actual.reshape(-1, self.size)
        self.accumulate(tp=(predicted & actual).sum(0), fp=(predicted & ~actual).sum(0),
                        fn=(~predicted & actual).sum(0), tn=(~predicted & ~actual).sum(0))

    def _average(self, per_class: torch.Tensor, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        """The macro mean: in multiclass, over the classes seen (predicted or true) as torchmetrics does."""
        if self.average == "none":
            return per_class.float()
        weights = torch.ones_like(per_class)
        if self.task == "multiclass":
            weights = ((tp + fp + fn) > 0).to(per_class.dtype)
        return _divide((per_class * weights).sum(), weights.sum()).float()


class Accuracy(_StatScores):
    """Accuracy: correct predictions over all (``average="micro"``, the default), or the mean per class
    (``"macro"``: recall per class in multiclass, accuracy per label in multilabel), or per class (``"none"``)."""

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor, tn: torch.Tensor) -> torch.Tensor:
        if self.task == "multiclass":
            if self.average == "micro":
                return _divide(tp.sum(), (tp + fn).sum()).float()
            return self._average(_divide(tp, tp + fn), tp, fp, fn)
        if self.average == "micro":
            return _divide((tp + tn).sum(), (tp + tn + fp + fn).sum()).float()
        return self._average(_divide(tp + tn, tp + tn + fp + fn), tp, fp, fn)


class F1Score(_StatScores):
    """F1, the harmonic mean of precision and recall: over all decisions (``average="micro"``, the default),
    the mean of each class's (``"macro"``), or per class (``"none"``); 0 where a class has no positives."""

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor, tn: torch.Tensor) -> torch.Tensor:
        if self.average == "micro":
            return _divide(2 * tp.sum(), (2 * tp + fp + fn).sum()).float()
        return self._average(_divide(2 * tp, 2 * tp + fp + fn), tp, fp, fn)


def _divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` in float64, 0 where the denominator is 0."""
    numerator, denominator = numerator.double(), denominator.double()
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator))


def _check_range(target: torch.Tensor, size: int, owner: str) -> None:
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= size):
        bad = target[(target < 0) | (target >= size)][0].item()
        raise DataError(f"{owner}: a target label id is outside 0..{size - 1}, the classes the model was built for. "
                        f"Build the task with num_classes covering every label (or fix the labels). "
                        f"Received: target={bad}")
