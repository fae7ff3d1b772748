"""Segmentation losses and metrics, with an ``ignore_index`` (unlabelled pixels) honoured by both.

:func:`segmentation_metrics` accumulates one confusion matrix (summed across processes) and computes from it
the mean IoU over the classes present, the IoU of each class, pixel accuracy and the mean Dice score.

Example:
    >>> import torch
    >>> metric = segmentation_metrics(num_classes=2, ignore_index=255)
    >>> metric.update(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 255]]))
    >>> {k: round(float(v), 3) for k, v in metric.compute().items() if k in ("mIoU", "pixel_accuracy")}
    {'mIoU': 1.0, 'pixel_accuracy': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from flash.core.metrics import Metric
from flash.errors import ConfigurationError, invalid_choice, require

LOSSES = ("cross_entropy", "dice", "focal")


def confusion_matrix(preds: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None) -> torch.Tensor:
    """``(num_classes, num_classes)`` counts, rows the true class, columns the predicted one; ignored pixels skipped."""
    preds, target = preds.reshape(-1).long(), target.reshape(-1).long()
    keep = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        keep &= target != ignore_index
    index = target[keep] * num_classes + preds[keep].clamp(0, num_classes - 1)
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(matrix: torch.Tensor) -> dict[str, torch.Tensor]:
    """IoU per class, mean IoU and mean Dice over the classes present (in truth or prediction), pixel accuracy."""
    matrix = matrix.double()
    true_positive = matrix.diagonal()
    truth, predicted = matrix.sum(1), matrix.sum(0)
    union = truth + predicted - true_positive
    present = union > 0
    iou = torch.where(present, true_positive / union.clamp(min=1), torch.full_like(union, float("nan")))
    dice = torch.where(present, 2 * true_positive / (truth + predicted).clamp(min=1), torch.zeros_like(union))
    total = matrix.sum()
    out = {"mIoU": iou[present].mean() if present.any() else torch.tensor(0.0, dtype=torch.float64),
           "pixel_accuracy": true_positive.sum() / total if total > 0 else torch.tensor(0.0, dtype=torch.float64),
           "dice": dice[present].mean() if present.any() else torch.tensor(0.0, dtype=torch.float64),
           "iou": iou}
    return {k: v.float() for k, v in out.items()}


class SegmentationMetrics(Metric):
    """The epoch's confusion matrix (summed across processes); ``compute()`` gives
    ``{"mIoU", "pixel_accuracy", "dice", "iou"}``."""

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        super().__init__()
        self.num_classes, self.ignore_index = int(num_classes), ignore_index
        self.add_state("matrix", torch.zeros(self.num_classes, self.num_classes, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.accumulate(matrix=confusion_matrix(preds, target, self.num_classes, self.ignore_index))

    def score(self, matrix: torch.Tensor) -> dict[str, torch.Tensor]:
        return scores(matrix)


def segmentation_metrics(num_classes: int, ignore_index: int | None = 255) -> SegmentationMetrics:
    """The metric a :class:`SemanticSegmentation` task logs (``{stage}_mIoU``, ...) unless given others."""
    return SegmentationMetrics(num_classes, ignore_index)


def build_loss(loss_fn: Any, *, ignore_index: int | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``"cross_entropy"`` (default), ``"dice"``, ``"focal"`` (segmentation-models-pytorch's), or a callable."""
    if loss_fn is None:
        loss_fn = "cross_entropy"
    if callable(loss_fn):
        return loss_fn
    if not isinstance(loss_fn, str):
        raise ConfigurationError(f"loss_fn must be one of {LOSSES} or a callable (logits, target) -> loss. "
                                 f"Received: loss_fn={loss_fn!r}")
    if loss_fn == "cross_entropy":
        return torch.nn.CrossEntropyLoss(ignore_index=-100 if ignore_index is None else ignore_index)
    if loss_fn in ("dice", "focal"):
        require("segmentation_models_pytorch", "image", purpose=f"the {loss_fn} loss")
        from segmentation_models_pytorch import losses

        if loss_fn == "dice":
            return losses.DiceLoss(mode="multiclass", ignore_index=ignore_index)
        return losses.FocalLoss(mode="multiclass", ignore_index=ignore_index)
    raise invalid_choice("loss_fn", loss_fn, LOSSES)
