"""The learning-rate range test: train a few steps while the learning rate grows exponentially, record the loss.

The suggestion is fastai's "valley": partway down the longest stretch over which the smoothed loss keeps
falling (Leslie Smith's range test; Lightning's ``lr_find`` picks the steepest point instead, which noise in
the flat start often wins). :class:`flash.tune.Tuner` runs it
on a throwaway trainer and restores the model afterwards; this module holds the parts that need no trainer.

Example:
    >>> lrs = sweep_learning_rates(min_lr=1e-4, max_lr=1e-1, num_steps=4)
    >>> [f"{lr:.0e}" for lr in lrs]
    ['1e-04', '1e-03', '1e-02', '1e-01']
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flash.engine.callbacks import Callback
from flash.errors import ConfigurationError, MissingDependencyError


def sweep_learning_rates(*, min_lr: float, max_lr: float, num_steps: int,
                         mode: Literal["exponential", "linear"] = "exponential") -> list[float]:
    """The learning rate of each of ``num_steps`` steps, from ``min_lr`` to ``max_lr`` inclusive."""
    if not 0 < min_lr < max_lr:
        raise ConfigurationError(f"lr_find needs 0 < min_lr < max_lr. Received: min_lr={min_lr}, max_lr={max_lr}")
    if not isinstance(num_steps, int) or num_steps < 2:
        raise ConfigurationError(f"lr_find needs num_training >= 2 steps. Received: num_training={num_steps!r}")
    if mode not in ("exponential", "linear"):
        raise ConfigurationError(f"mode must be 'exponential' or 'linear'. Received: mode={mode!r}")
    fractions = [i / (num_steps - 1) for i in range(num_steps)]
    if mode == "linear":
        return [min_lr + (max_lr - min_lr) * f for f in fractions]
    return [min_lr * (max_lr / min_lr) ** f for f in fractions]


def suggest_learning_rate(lrs: list[float], losses: list[float]) -> float | None:
    """fastai's "valley": the longest stretch over which the loss keeps falling, two-thirds of the way down it.

    More robust than the steepest point, which a noisy flat start often wins. None with fewer than 3 points.

    Example:
        >>> lrs = [10.0 ** e for e in range(-7, 3)]
        >>> suggest_learning_rate(lrs, [2.3, 2.3, 2.29, 2.2, 2.0, 1.6, 1.1, 0.8, 0.7, 3.0])
        0.0001
    """
    n = len(losses)
    if n < 3:
        return None
    falling = [1] * n  # length of the longest decreasing subsequence ending at i
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and falling[i] < falling[j] + 1:
                falling[i] = falling[j] + 1
            if falling[end] < falling[i]:
                end, start = i, i - falling[i]
    third = (end - start) / 3
    return float(lrs[min(n - 1, start + int(third) + int(third / 2))])


@dataclass
class LRFinderResult:
    """What a sweep measured: each step's learning rate and smoothed loss, the suggestion, and the plot's file.

    ``suggestion`` is None when the sweep diverged before three steps (lower ``max_lr``).
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    raw_losses: list[float] = field(default_factory=list)
    suggestion: float | None = None
    plot_path: Path | None = None

    def plot(self, path: str | os.PathLike | None = None):
        """Draw loss against learning rate (log scale), the suggestion marked; save a PNG when ``path`` is given."""
        from flash.core.plots import _save, new_figure

        figure, axes = new_figure(size=(6.0, 4.0))
        ax = axes[0, 0]
        ax.plot(self.lrs, self.raw_losses, color="0.75", linewidth=1, label="loss")
        ax.plot(self.lrs, self.losses, color="C0", label="smoothed loss")
        if self.suggestion is not None:
            index = self.lrs.index(self.suggestion)
            ax.plot([self.suggestion], [self.losses[index]], "o", color="C3", markersize=8,
                    label=f"suggestion: {self.suggestion:.2e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate finder")
        ax.grid(alpha=0.3)
        if self.losses:  # the divergence at the end would squash the interesting part
            lowest = min(self.losses)
            top = max(self.losses[: self.losses.index(lowest) + 1])
            pad = 0.1 * (top - lowest) or 0.1 * abs(top) or 0.1
            ax.set_ylim(lowest - pad, top + 3 * pad)
        ax.legend()
        return _save(figure, path)

    def save_plot(self, path: str | os.PathLike) -> Path | None:
        """Save the plot, or warn (with the pip line) and return None when matplotlib is missing."""
        try:
            self.plot(path)
        except MissingDependencyError as err:
            warnings.warn(f"lr_find could not save its plot: {err}", stacklevel=3)
            return None
        self.plot_path = Path(path)
        return self.plot_path


def _loss_value(outputs: Any) -> float | None:
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    if loss is None or not hasattr(loss, "detach"):
        return None
    return float(loss.detach().float().mean())


class LRSweep(Callback):
    """Set the learning rate before each optimizer step and record the loss; stop once the loss diverges.

    Param groups keep their ratios to the first group (a task with a lower backbone rate keeps it lower).
    """

    def __init__(self, lrs: list[float], *, beta: float = 0.98, early_stop_threshold: float | None = 4.0) -> None:
        self.lrs, self.beta, self.threshold = lrs, beta, early_stop_threshold
        self.result = LRFinderResult()
        self._ratios: list[float] = []
        self._average, self._best = 0.0, math.inf

    def on_train_start(self, trainer, module) -> None:
        groups = trainer.optimizers[0].param_groups
        first = float(groups[0]["lr"]) or 1.0
        self._ratios = [float(g["lr"]) / first if first else 1.0 for g in groups]

    def on_train_batch_start(self, trainer, module, batch, batch_idx: int) -> None:
        lr = self.lrs[min(trainer.global_step, len(self.lrs) - 1)]
        for group, ratio in zip(trainer.optimizers[0].param_groups, self._ratios):
            group["lr"] = lr * ratio

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None:
        value = _loss_value(outputs)
        if value is None or not math.isfinite(value):
            trainer.should_stop = True  # the loss blew up: the sweep has gone far enough
            return
        step = trainer.global_step  # optimizer steps taken, so this batch's rate is lrs[step - 1]
        if step == len(self.result.lrs):  # inside an accumulation window: no step yet
            return
        self._average = self.beta * self._average + (1 - self.beta) * value
        smoothed = self._average / (1 - self.beta ** step)
        self.result.lrs.append(self.lrs[step - 1])
        self.result.raw_losses.append(value)
        self.result.losses.append(smoothed)
        self._best = min(self._best, smoothed)
        if self.threshold is not None and step > 1 and smoothed > self.threshold * self._best:
            trainer.should_stop = True
