"""The report adapter every classifier shares: per-class metrics, a confusion matrix, the most confident mistakes.

A classifier's ``validation_step`` returns ``{"preds": (B, C) probabilities, "target": (B,) or (B, C)}``;
:class:`ClassificationReport` keeps them (and the inputs of the most confident mistakes) for one validation pass
and writes its sections into the report page. Multi-label targets ``(B, C)`` get per-label metrics at the 0.5
threshold instead of a confusion matrix. A task whose inputs need its own way of being shown (token ids decoded
back to text, say) subclasses it and overrides :meth:`ClassificationReport.view`.

Example:
    >>> import torch
    >>> part = ClassificationReport()
    >>> outputs = {"preds": torch.tensor([[0.9, 0.1]]), "target": torch.tensor([1])}
    >>> part.add(None, outputs, {"input": torch.rand(1, 3, 4, 4)})
    >>> [(round(p, 2), true, predicted) for p, _, true, predicted in part.mistakes]
    [(0.9, 1, 0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from flash.core.data import INPUT
from flash.core.reporting import PassReport

MAX_SHOWN = 16  # mistakes kept for the picture
THRESHOLD = 0.5


class ClassificationReport(PassReport):
    """The outputs of one validation pass of a classifier, on the CPU, and the sections they make."""

    outputs: ClassVar[tuple[str, ...]] = ("preds", "target")
    kept = ("preds", "targets", "mistakes")

    def __init__(self) -> None:
        self.preds: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        self.mistakes: list[tuple[float, Any, int, int]] = []  # (probability, view, true, predicted)

    def add(self, module: Any, outputs: dict, batch: Any) -> None:
        """Keep one validation batch's predictions, and the inputs of its most confident mistakes."""
        preds, target = outputs["preds"].detach().float().cpu(), outputs["target"].detach().cpu()
        self.preds.append(preds)
        self.targets.append(target)
        if target.ndim != 1 or preds.ndim != 2:
            return  # multi-label: per-label tables, no "mistakes" grid
        probability, predicted = preds.max(dim=-1)
        wrong = torch.nonzero(predicted != target).flatten().tolist()
        floor = self.mistakes[-1][0] if len(self.mistakes) >= MAX_SHOWN else -1.0
        for i in sorted(wrong, key=lambda j: -float(probability[j]))[:MAX_SHOWN]:
            if float(probability[i]) > floor:
                self.mistakes.append((float(probability[i]), self.view(module, batch, i), int(target[i]),
                                      int(predicted[i])))
        self.mistakes = sorted(self.mistakes, key=lambda m: -m[0])[:MAX_SHOWN]

    def view(self, module: Any, batch: Any, i: int) -> Any:
        """Sample ``i`` of a batch as something to show: an image tensor ``(C, H, W)`` or a short string."""
        inputs = batch.get(INPUT) if isinstance(batch, dict) else None
        if not isinstance(inputs, torch.Tensor):
            return None
        sample = inputs[i].detach().float().cpu()
        if sample.ndim == 3 and sample.shape[0] in (1, 3, 4):
            return sample
        text = str([round(v, 3) for v in sample.flatten()[:8].tolist()])
        return text[:-1] + ", ...]" if sample.numel() > 8 else text

    def trim(self) -> None:
        self.mistakes = sorted(self.mistakes, key=lambda m: -m[0])[:MAX_SHOWN]

    def sections(self, page: Any, *, model: Any) -> None:
        """Add the classification sections for this validation pass to ``page``."""
        probs = torch.cat(self.preds).numpy()  # (N, C)
        targets = torch.cat(self.targets).numpy()  # (N,) or (N, C)
        names = _names(getattr(model, "labels", None), probs.shape[1])
        if targets.ndim == 2:
            _multi_label(page.section("Per-label metrics"), probs, targets.astype(bool), names)
            return
        predicted = probs.argmax(axis=1)
        _single_label(page.section("Per-class metrics"), predicted, targets, names)
        if self.mistakes:
            _mistakes(page.section("Most confident mistakes"), self.mistakes, names)


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


def _single_label(section: Any, predicted: np.ndarray, targets: np.ndarray, names: list[str]) -> None:
    from flash.core.reporting.svg import heatmap

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
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    section.svg(heatmap(share, names, names, title="share of each true class", xlabel="predicted class",
                        ylabel="true class"), "confusion_matrix.svg", alt="confusion matrix")


def _multi_label(section: Any, probs: np.ndarray, targets: np.ndarray, names: list[str]) -> None:
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


def _mistakes(section: Any, mistakes: list[tuple[float, Any, int, int]], names: list[str]) -> None:
    from flash.core.reporting.grid import save_grid, to_uint8

    section.text("Validation samples the model got wrong with the highest probability for its wrong answer.",
                 note=True)
    if all(isinstance(view, torch.Tensor) for _, view, _, _ in mistakes):
        captions = [f"true: {names[t]}\npred: {names[p]} {prob:.2f}" for prob, _, t, p in mistakes]
        save_grid([to_uint8(view) for _, view, _, _ in mistakes], captions, section.folder / "mistakes.png")
        section.picture("mistakes.png", alt="most confident mistakes")
        return
    rows = [[float(prob), names[t], names[p], "" if view is None else str(view)] for prob, view, t, p in mistakes]
    section.table(["probability", "true", "predicted", "input"], rows, csv_name="mistakes.csv")
