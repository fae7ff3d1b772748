"""What ``flash export`` writes for a text classifier (the entry's ``export`` adapter).

``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them) ``(B, T)`` -> ``logits
(B, C)``: the encoder, pooling and head, with dynamic batch and sequence. The metadata stores the labels,
``max_length``, the input names and the tokenizer files, so the ONNX runner tokenizes as training did.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.core.exporting import ExportSpec, encode_files, json_labels

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class TextLogits(torch.nn.Module):
    """Positional token tensors -> the classifier's logits (its forward takes a dict)."""

    def __init__(self, classifier: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.classifier, self.names = classifier, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:  # each (B, T) -> (B, C)
        return self.classifier(dict(zip(self.names, tensors)))


def export_spec(model: Any) -> ExportSpec:
    """The classifier traced on two tokenized example texts of different lengths."""
    from flash.text.classification.backbones import backbone_files

    encoded = model.tokenizer(["an example text to trace", "short"], padding="longest", return_tensors="pt")
    names = [n for n in TOKEN_INPUTS if n in encoded]
    metadata = {"labels": json_labels(model.labels), "multi_label": bool(model.multi_label),
                "max_length": model.max_length, "input_names": names,
                "files": encode_files(backbone_files(model.backbone, model.tokenizer))}
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    return ExportSpec(TextLogits(model, names), tuple(encoded[n] for n in names), names, ["logits"],
                      {**axes, "logits": {0: "batch"}}, metadata)
