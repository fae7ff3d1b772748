"""The ``export`` and ``onnx`` adapters: the network as ONNX with dynamic batch, height and width, and a runner
that answers as ``model.predict`` does (class maps at each image's original size).

The graph takes ``input (B, 3, H, W)`` normalized images, ``H`` and ``W`` multiples of ``metadata["pad_to"]`` (32
for segmentation-models-pytorch networks, 1 for torchvision's), and gives ``logits (B, C, H, W)``. Resizing to
the training size, normalizing, padding, resizing the logits back and the arg-max run outside it, from the
metadata (padding that depends on the input's shape would be frozen into a traced graph).

Example:
    >>> spec = export_spec(model)  # doctest: +SKIP
    >>> spec.dynamic_axes["input"]  # doctest: +SKIP
    {0: 'batch', 2: 'height', 3: 'width'}
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from flash.core.exporting import ExportSpec, json_labels


class _Logits(torch.nn.Module):
    """The task's network alone: its input already padded to a multiple of ``pad_to``."""

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.network = task.model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


def pad_to_multiple(batch: np.ndarray, multiple: int) -> np.ndarray:
    """Zero-pad ``(B, 3, H, W)`` at the bottom and right to sides divisible by ``multiple``."""
    height, width = batch.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return np.pad(batch, ((0, 0), (0, 0), (0, pad_h), (0, pad_w))) if pad_h or pad_w else batch


def export_spec(model: Any) -> ExportSpec:
    """The segmentation network with its preprocessing settings and class names as metadata."""
    transform = model.input_transform
    meta = {"labels": json_labels(model.labels), "num_classes": int(model.num_classes), "pad_to": int(model.pad_to),
            "labels_map": {str(k): list(v) for k, v in (model.labels_map or {}).items()},
            "transform": {"image_size": list(transform.image_size), "mean": list(transform.mean),
                          "std": list(transform.std)}}
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}}
    example = torch.from_numpy(pad_to_multiple(model.example_input().numpy(), model.pad_to))
    return ExportSpec(_Logits(model), (example,), ["input"], ["logits"], axes, meta)


class SegmentationRunner:
    """An exported segmentation model on onnxruntime: images in, class maps at their own size out."""

    default_output = "labels"

    def __init__(self, session: Any, metadata: dict) -> None:
        from flash.image.segmentation.transforms import SemanticSegmentationInputTransform

        self.session, self.metadata = session, metadata
        settings = metadata["transform"]
        self.transform = SemanticSegmentationInputTransform(**settings).build(train=False)
        self.settings = {"image_min_size": None}

    def load(self, path: str | os.PathLike) -> Any:
        from flash.image.io import load_image

        return load_image(path)

    def __call__(self, images: list, *, output: str = "labels") -> list:
        from flash.image.segmentation.predict import format_masks, resize_logits

        samples = [self.transform({"input": image}) for image in images]
        batch = np.stack([s["input"].numpy() for s in samples])  # (B, 3, h, w), all at the training size
        height, width = batch.shape[-2:]
        padded = pad_to_multiple(batch, int(self.metadata.get("pad_to", 1)))
        logits = torch.from_numpy(self.session.run(None, {"input": padded})[0])[..., :height, :width]
        per_image = [resize_logits(item[None], s["metadata"]["size"])[0] for item, s in zip(logits, samples)]
        return format_masks(per_image, output)
