"""Classification sections: confusion matrix, per-class precision/recall/F1, the most confident mistakes.

Multi-label tasks get per-label metrics at the 0.5 threshold instead of a confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from flash.reports.collect import Collected
from flash.reports.html import Page, Section

THRESHOLD = 0.5


def per_class_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class from true/false positive and false negative counts (0 where undefined).

    Example:
        >>> per_class_scores(np.array([2]), np.array([2]), np.array([0]))
        (array([0.5]), array([1.]), array([0.66666667]))
    """
    precision = np.divide(tp, tp + fp, out=np.zeros(len(tp)), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros(len(tp)), where=(tp + fn) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(tp)), where=(precision + recall) > 0)
    return precision, recall, f1


def _names(labels: Sequence[str] | None, num_classes: int) -> list[str]:
    return [str(n) for n in labels] if labels and len(labels) == num_classes else [str(i) for i in range(num_classes)]


def classification_sections(page: Page, collected: Collected, *, labels: Sequence[str] | None) -> None:
    """Add the classification sections for one validation pass to ``page``."""
    probs = torch.cat(collected.preds).numpy()  # (N, C)
    targets = torch.cat(collected.targets).numpy()  # (N,) or (N, C)
    names = _names(labels, probs.shape[1])
    if targets.ndim == 2:
        _multi_label(page.section("Per-label metrics"), probs, targets.astype(bool), names)
        return
    predicted = probs.argmax(axis=1)
    _single_label(page.section("Per-class metrics"), predicted, targets, names)
    if collected.mistakes:
        _mistakes(page.section("Most confident mistakes"), collected.mistakes, names)


def _single_label(section: Section, predicted: np.ndarray, targets: np.ndarray, names: list[str]) -> None:
    from flash.core.plots import plot_confusion_matrix

    num_classes = len(names)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (targets, predicted), 1)
    tp = np.diag(matrix).astype(float)
    precision, recall, f1 = per_class_scores(tp, matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp)
    support = matrix.sum(axis=1)
    section.text(f"{len(targets)} validation samples, accuracy {tp.sum() / max(len(targets), 1):.4f}, "
                 f"macro F1 {f1.mean():.4f}.")
    rows = [[name, float(p), float(r), float(f), int(s)]
            for name, p, r, f, s in zip(names, precision, recall, f1, support)]
    section.table(["class", "precision", "recall", "F1", "support"], rows, csv_name="per_class.csv")
    figure = plot_confusion_matrix(targets.tolist(), predicted.tolist(), labels=names)
    section.figure(figure, "confusion_matrix.png", alt="confusion matrix")


def _multi_label(section: Section, probs: np.ndarray, targets: np.ndarray, names: list[str]) -> None:
    predicted = probs >= THRESHOLD
    tp = (predicted & targets).sum(axis=0).astype(float)
    fp = (predicted & ~targets).sum(axis=0).astype(float)
    fn = (~predicted & targets).sum(axis=0).astype(float)
    precision, recall, f1 = per_class_scores(tp, fp, fn)
    section.text(f"{len(targets)} validation samples; a label is predicted when its probability is >= {THRESHOLD}. "
                 f"Exact-match ratio {(predicted == targets).all(axis=1).mean():.4f}, macro F1 {f1.mean():.4f}.")
    rows = [[name, float(p), float(r), float(f), int(s), int(k)]
            for name, p, r, f, s, k in zip(names, precision, recall, f1, targets.sum(axis=0), predicted.sum(axis=0))]
    section.table(["label", "precision", "recall", "F1", "support", "predicted"], rows, csv_name="per_label.csv")


def _mistakes(section: Section, mistakes: list[tuple[float, Any, int, int]], names: list[str]) -> None:
    from flash.reports.grid import save_grid, to_uint8

    section.text("Validation samples the model got wrong with the highest probability for its wrong answer.",
                 note=True)
    if all(isinstance(view, torch.Tensor) for _, view, _, _ in mistakes):
        captions = [f"true: {names[t]}\npred: {names[p]} {prob:.2f}" for prob, _, t, p in mistakes]
        save_grid([to_uint8(view) for _, view, _, _ in mistakes], captions, section.folder / "mistakes.png")
        section.picture("mistakes.png", alt="most confident mistakes")
        return
    rows = [[float(prob), names[t], names[p], "" if view is None else str(view)] for prob, view, t, p in mistakes]
    section.table(["probability", "true", "predicted", "input"], rows, csv_name="mistakes.csv")
