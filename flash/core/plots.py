"""Pictures people would rather look at than read: training curves, confusion matrices, batches.

Every function draws with matplotlib's headless ``Agg`` canvas, returns the ``Figure`` (so a
notebook shows it inline) and, given ``path``, saves a PNG.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flash.errors import DataError, require


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (6.0, 4.0)):
    """A headless matplotlib ``Figure`` and its ``(rows, cols)`` array of axes, ``size`` inches per axis."""
    require("matplotlib", "plot", purpose="plots")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, axes


def _save(figure, path: str | os.PathLike | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    return figure


def _metrics_file(source: Any) -> Path:
    if hasattr(source, "log_dir"):  # a Trainer or a Logger
        source = source.log_dir
    path = Path(source)
    if path.is_dir():
        path = path / "metrics.csv"
    if not path.is_file():
        raise DataError(f"No metrics.csv at '{path}'. Train with the default CSV logger, or pass the log folder.")
    return path


def read_metrics(source: Any) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` from a CSV log (a Trainer, a log folder or a metrics.csv)."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    with open(_metrics_file(source), newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row.get("step") or 0))
            for key, value in row.items():
                if key in ("step", "epoch") or value in (None, ""):
                    continue
                series[key].append((step, float(value)))
    return dict(series)


def plot_metrics(source: Any, *, path: str | os.PathLike | None = None, metrics: Sequence[str] | None = None):
    """Training and validation curves, one panel per quantity (``loss``, ``accuracy``, ...).

    Example:
        >>> figure = flash.plot_metrics(trainer, path="curves.png")  # doctest: +SKIP
    """
    series = read_metrics(source)
    if metrics:
        series = {k: v for k, v in series.items() if k in metrics}
    if not series:
        raise DataError("The log holds no metrics to plot yet; train for at least one epoch.")
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(series):
        base = name.split("_", 1)[1] if name.split("_", 1)[0] in ("train", "val", "test") else name
        groups[base.removesuffix("_epoch").removesuffix("_step")].append(name)
    cols = min(3, len(groups))
    figure, axes = new_figure(math.ceil(len(groups) / cols), cols, size=(5.0, 3.5))
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax, (quantity, names) in zip(axes.flat, groups.items()):
        for name in names:
            steps, values = zip(*series[name])
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, label=name)
        ax.set_title(quantity)
        ax.set_xlabel("step")
        ax.legend()
        ax.grid(alpha=0.3)
    return _save(figure, path)


def plot_confusion_matrix(targets: Sequence[int], predictions: Sequence[int], *, labels: Sequence[str] | None = None,
                          path: str | os.PathLike | None = None, normalize: bool = False):
    """A confusion matrix: rows are true classes, columns predicted ones."""
    import numpy as np

    n = len(labels) if labels else int(max(max(targets, default=0), max(predictions, default=0))) + 1
    matrix = np.zeros((n, n), dtype=float)
    for t, p in zip(targets, predictions):
        matrix[int(t), int(p)] += 1
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    names = list(labels) if labels else [str(i) for i in range(n)]
    figure, axes = new_figure(size=(1.0 + 0.5 * n, 0.8 + 0.5 * n))
    ax = axes[0, 0]
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{matrix[i, j]:.2f}" if normalize else int(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black", fontsize=8)
    return _save(figure, path)


def show_images(images: Sequence[Any], *, titles: Sequence[str] | None = None, path: str | os.PathLike | None = None,
                cols: int = 4, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
    """A grid of images (CHW tensors, HWC arrays or PIL images), undoing ``Normalize(mean, std)``."""
    import numpy as np

    if not images:
        raise DataError("show_images got no images.")
    cols = min(cols, len(images))
    figure, axes = new_figure(math.ceil(len(images) / cols), cols, size=(2.5, 2.7))
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        array = image.detach().cpu().float().numpy() if hasattr(image, "detach") else np.asarray(image)
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.transpose(array, (1, 2, 0))
        if mean is not None and std is not None and array.dtype != np.uint8:
            array = array * np.asarray(std) + np.asarray(mean)
        if array.dtype != np.uint8:
            array = np.clip(array, 0.0, 1.0 if array.max(initial=0) <= 1.0 + 1e-3 else 255.0)
            array = array / (255.0 if array.max(initial=0) > 1.0 else 1.0)
        ax.imshow(array.squeeze(), cmap="gray" if array.ndim == 2 or array.shape[-1] == 1 else None)
        if titles is not None and i < len(titles):
            ax.set_title(str(titles[i]), fontsize=9)
    return _save(figure, path)
