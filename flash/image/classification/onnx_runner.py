"""Running an exported image classifier on onnxruntime (the entry's ``onnx`` adapter): the evaluation transform
rebuilt from the stored settings, then labels from the logits as ``ImageClassifier.predict`` gives them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flash.core.serving import classify_logits
from flash.image.io import load_image


class ImageClassificationRunner:
    """``Runner(session, metadata)``: images (upright RGB PIL) -> labels, from an onnxruntime session."""

    default_output = "labels"

    def __init__(self, session: Any, metadata: dict[str, Any]) -> None:
        from flash.image.classification.transforms import ImageClassificationInputTransform

        self.session, self.metadata = session, metadata
        self.transform = ImageClassificationInputTransform(**metadata["transform"]).pipeline(train=False)
        self.settings = {"image_min_size": tuple(metadata["transform"]["image_size"])}  # JPEGs decoded as in training

    def load(self, path: str | os.PathLike) -> Any:
        """An image file -> what :meth:`__call__` takes."""
        return load_image(path, min_size=self.settings["image_min_size"])

    def __call__(self, images: list) -> list:
        batch = np.stack([self.transform(image).numpy() for image in images])  # (B, 3, H, W)
        return classify_logits(self.session.run(None, {"input": batch})[0], self.metadata)
