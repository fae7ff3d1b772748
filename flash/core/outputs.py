"""How predictions are presented: ``"preds"``, ``"logits"``, ``"probabilities"``, ``"classes"``, ``"labels"``,
``"raw"`` (the model's own output tensors).

Lightning Flash's output objects (``LabelsOutput()``, ``ProbabilitiesOutput()``, ...) name the same choices and are
accepted wherever a name is: ``trainer.predict(model, datamodule=dm, output=LabelsOutput())``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from flash.errors import invalid_choice

OutputName = Literal["preds", "logits", "probabilities", "classes", "labels", "raw"]
CLASSIFICATION_OUTPUTS = ("preds", "logits", "probabilities", "classes", "labels", "raw")


class Output:
    """A named output choice (Lightning Flash's output classes); ``threshold`` applies to multi-label classes.

    Example:
        >>> LabelsOutput(["cat", "dog"]).name
        'labels'
    """

    name = "raw"

    def __init__(self, labels: Sequence[str] | None = None, *, multi_label: bool | None = None,
                 threshold: float = 0.5) -> None:
        self.labels, self.multi_label, self.threshold = labels, multi_label, float(threshold)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PredsOutput(Output):
    name = "preds"


class LogitsOutput(Output):
    name = "logits"


class ProbabilitiesOutput(Output):
    name = "probabilities"


class ClassesOutput(Output):
    name = "classes"


class LabelsOutput(Output):
    name = "labels"


def output_name(output: str | Output) -> str:
    """The name of an output given as a string or an :class:`Output` object."""
    return output.name if isinstance(output, Output) else output


def classification_output(logits: torch.Tensor, output: str | Output, *, multi_label: bool,
                          labels: Sequence[str] | None,
                          threshold: float = 0.5) -> list:
    """Turn a batch of logits ``(B, C)`` into one Python value per sample (``"raw"``: the logits tensors)."""
    if isinstance(output, Output):
        labels = output.labels or labels
        multi_label = multi_label if output.multi_label is None else output.multi_label
        threshold = output.threshold
        output = output.name
    if output not in CLASSIFICATION_OUTPUTS:
        raise invalid_choice("output", output, CLASSIFICATION_OUTPUTS)
    if output == "raw":
        return list(logits.detach().cpu().unbind(0))
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
