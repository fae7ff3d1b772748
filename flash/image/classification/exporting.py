"""What ``flash export`` writes for an image classifier (the entry's ``export`` adapter).

``input (B, 3, H, W)`` normalized -> ``logits (B, C)``, dynamic batch; the metadata stores the labels and the
evaluation transform's settings (image size, mean, std), which the ONNX runner rebuilds its preprocessing from.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.core.exporting import ExportSpec, json_labels


class Logits(torch.nn.Module):
    """``classifier(x)`` as a plain module of one tensor (what tracing and ONNX export take)."""

    def __init__(self, classifier: torch.nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, C)
        return self.classifier(x)


def export_spec(model: Any) -> ExportSpec:
    """The classifier's logits on one example batch, the labels and the transform settings."""
    settings = model.input_transform.settings()
    metadata = {"labels": json_labels(model.labels), "multi_label": bool(model.multi_label),
                "transform": {"image_size": list(settings["image_size"]), "mean": list(settings["mean"]),
                              "std": list(settings["std"])}}
    return ExportSpec(Logits(model), (model.example_input(),), ["input"], ["logits"],
                      {"input": {0: "batch"}, "logits": {0: "batch"}}, metadata)
