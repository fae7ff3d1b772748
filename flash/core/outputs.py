"""How predictions are presented: ``"preds"``, ``"logits"``, ``"probabilities"``, ``"classes"``, ``"labels"``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from flash.errors import invalid_choice

OutputName = Literal["preds", "logits", "probabilities", "classes", "labels"]
CLASSIFICATION_OUTPUTS = ("preds", "logits", "probabilities", "classes", "labels")


def classification_output(logits: torch.Tensor, output: str, *, multi_label: bool, labels: Sequence[str] | None,
                          threshold: float = 0.5) -> list:
    """Turn a batch of logits ``(B, C)`` into one Python value per sample."""
    if output not in CLASSIFICATION_OUTPUTS:
        raise invalid_choice("output", output, CLASSIFICATION_OUTPUTS)
    logits = logits.detach().float().cpu()
    if output in ("preds", "logits"):
        return logits.tolist()
    probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
    if output == "probabilities":
        return probs.tolist()
    if multi_label:
        classes: list[Any] = [torch.nonzero(row >= threshold).flatten().tolist() for row in probs]
    else:
        classes = probs.argmax(dim=-1).tolist()
    if output == "classes" or not labels:
        return classes
    if multi_label:
        return [[labels[i] for i in row] for row in classes]
    return [labels[i] for i in classes]
