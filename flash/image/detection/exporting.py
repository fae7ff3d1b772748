"""What ``flash export`` writes for an object detector (the entry's ``export`` adapter).

One ``image (3, H, W)`` in [0, 1] -> ``boxes (N, 4)``, ``labels (N,)``, ``scores (N,)`` in the pixels of the image
given, resizing and normalising inside the graph as torchvision's detectors do; scripted for TorchScript (the
detector's control flow depends on the data). The metadata stores labels, label offset, threshold and image size.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.core.exporting import ExportSpec, json_labels


class Detections(torch.nn.Module):
    """One image -> its detections as three tensors (torchvision detectors take and return lists)."""

    def __init__(self, detector: torch.nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.detector([image])
        detections = out[1][0] if isinstance(out, tuple) else out[0]  # scripted detectors return (losses, detections)
        return detections["boxes"], detections["labels"], detections["scores"]


def export_spec(model: Any) -> ExportSpec:
    """The torchvision detector inside ``model``, traced on one 4:3 image of the model's size."""
    image_size = model.input_transform.image_size
    metadata = {"labels": json_labels(model.labels), "offset": model.offset, "threshold": model.threshold,
                "image_size": image_size, "head": model.head_name}
    image = torch.rand(3, image_size * 3 // 4, image_size)
    axes = {"image": {1: "height", 2: "width"}, "boxes": {0: "detections"}, "labels": {0: "detections"},
            "scores": {0: "detections"}}
    return ExportSpec(Detections(model.model), (image,), ["image"], ["boxes", "labels", "scores"], axes, metadata,
                      script=True)
