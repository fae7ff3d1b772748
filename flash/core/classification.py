"""What every classifier shares: loss and metric inputs for single- or multi-label logits, and outputs.

A classifier task sets ``self.multi_label`` and ``self.labels`` and mixes this in before ``Task``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from flash.core.outputs import classification_output


def default_loss(multi_label: bool):
    """Cross-entropy over classes, or binary cross-entropy per class when several labels can hold."""
    return torch.nn.functional.binary_cross_entropy_with_logits if multi_label else torch.nn.functional.cross_entropy


class ClassificationMixin:
    """``compute_loss``, ``metric_inputs`` and ``format_predictions`` for logits ``(B, num_classes)``."""

    multi_label: bool = False
    labels: list[str] | None = None
    loss_fn: Callable  # set by Task.__init__

    def compute_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(outputs, target.float() if self.multi_label else target)

    def metric_inputs(self, outputs: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.multi_label:
            return torch.sigmoid(outputs), target.int()
        return torch.softmax(outputs, dim=-1), target

    def format_predictions(self, outputs: torch.Tensor, output: str) -> list:
        return classification_output(outputs, output, multi_label=self.multi_label, labels=self.labels)
