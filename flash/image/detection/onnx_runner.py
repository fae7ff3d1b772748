"""Running an exported object detector on onnxruntime (the entry's ``onnx`` adapter): each image resized as the
model's evaluation transform does, boxes mapped back to its pixels, detections under the threshold dropped.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flash.image.io import load_image


class ObjectDetectionRunner:
    """``Runner(session, metadata)``: images (upright RGB PIL) -> ``{"boxes", "labels", "scores"}`` each."""

    default_output = "preds"

    def __init__(self, session: Any, metadata: dict[str, Any]) -> None:
        from flash.image.detection.transforms import DetectionSampleTransform

        self.session, self.metadata = session, metadata
        self.transform = DetectionSampleTransform(metadata["image_size"], train=False)
        self.settings: dict[str, Any] = {"image_min_size": None}  # decoded whole, as the torch model does

    def load(self, path: str | os.PathLike) -> Any:
        """An image file -> what :meth:`__call__` takes."""
        return load_image(path, min_size=self.settings["image_min_size"])

    def __call__(self, images: list) -> list:
        return [self._detect(image) for image in images]  # the graph takes one image (sizes differ)

    def _detect(self, image: Any) -> dict:
        sample = self.transform({"input": image})
        tensor = sample["input"].numpy()  # (3, h, w) in [0, 1], longer side image_size
        boxes, labels, scores = self.session.run(None, {"image": tensor})
        (height, width), (h, w) = sample["metadata"]["size"], tensor.shape[-2:]
        boxes = boxes * np.array([width / w, height / h, width / w, height / h], dtype=boxes.dtype)
        keep = scores >= self.metadata["threshold"]
        names = self.metadata.get("labels")
        ids = (labels[keep] + self.metadata["offset"]).tolist()
        return {"boxes": boxes[keep].tolist(), "labels": [names[i] if names else i for i in ids],
                "scores": scores[keep].tolist()}
