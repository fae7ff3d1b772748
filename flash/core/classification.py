"""What every classifier shares: loss and metric inputs for single- or multi-label logits, and outputs.

A classifier task sets ``self.multi_label`` and ``self.labels`` and mixes this in before ``Task``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from flash.core.outputs import (  # noqa: F401 - Lightning Flash's import path for the output classes
    CLASSIFICATION_OUTPUTS,
    ClassesOutput,
    LabelsOutput,
    LogitsOutput,
    Output,
    PredsOutput,
    ProbabilitiesOutput,
    classification_output,
)
from flash.errors import ConfigurationError


def resolve_num_classes(num_classes: int | None, labels: Sequence | None, *, owner: str, minimum: int = 1,
                        counts: str = "") -> int:
    """The number of classes from ``num_classes`` and/or ``labels`` (they must agree), at least ``minimum``.

    Args:
        num_classes: the count given, or None. labels: the class names given, or None.
        owner: the class asking, for the message (e.g. ``"MyClassifier"``).
        minimum: the smallest valid count. counts: what the count includes, e.g. ``" (the background counts)"``.

    Example:
        >>> resolve_num_classes(None, ["cat", "dog"], owner="MyClassifier")
        2
    """
    if num_classes is None and labels is None:
        raise ConfigurationError(f"{owner} needs num_classes or labels, e.g. "
                                 f"{owner}(num_classes=datamodule.num_classes, labels=datamodule.labels).")
    if num_classes is None and labels is not None:
        num_classes = len(labels)
    if not isinstance(num_classes, int) or num_classes < minimum:
        raise ConfigurationError(f"num_classes{counts} must be an int >= {minimum}. "
                                 f"Received: num_classes={num_classes!r}")
    if labels is not None and len(labels) != num_classes:
        raise ConfigurationError(f"labels has {len(labels)} names but num_classes={num_classes}{counts}: the count "
                                 f"does not match the labels. Pass one of them. Received: labels={list(labels)!r}")
    return num_classes


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

    @classmethod
    def available_outputs(cls) -> list[str]:
        """The ``output=`` names ``predict`` takes (or their classes: ``LabelsOutput()``, ...)."""
        return list(CLASSIFICATION_OUTPUTS)

    def format_predictions(self, outputs: torch.Tensor, output: str) -> list:
        return classification_output(outputs, output, multi_label=self.multi_label, labels=self.labels)
