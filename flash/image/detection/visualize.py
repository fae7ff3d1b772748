"""Draw predicted (red) and, when given, true (green) boxes with their names onto an image, as a PNG.

Example:
    >>> prediction = model.predict("street.jpg")  # doctest: +SKIP
    >>> draw_predictions("street.jpg", prediction, path="street_boxes.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flash.image.io import image_from_array, load_image


def _as_uint8_tensor(image: Any) -> torch.Tensor:
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    elif not hasattr(image, "convert"):
        image = image_from_array(image)
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def _texts(boxes: dict, with_scores: bool) -> list[str]:
    labels = [str(name) for name in boxes.get("labels", [])]
    if with_scores and "scores" in boxes:
        return [f"{name} {float(score):.2f}" for name, score in zip(labels, boxes["scores"])]
    return labels


def draw_predictions(image: Any, prediction: dict, target: dict | None = None, *,
                     path: str | os.PathLike = "out.png", width: int = 2) -> torch.Tensor:
    """Draw ``prediction`` (``{"boxes", "labels", "scores"}`` in original pixels) and ``target`` boxes; save a PNG.

    Returns the drawn image as a ``(3, H, W)`` uint8 tensor.
    """
    from PIL import Image
    from torchvision.utils import draw_bounding_boxes

    canvas = _as_uint8_tensor(image)
    for boxes, colour, with_scores in ((target, "lime", False), (prediction, "red", True)):
        if boxes and len(boxes.get("boxes", [])):
            tensor = torch.as_tensor(boxes["boxes"], dtype=torch.float32).reshape(-1, 4)
            canvas = draw_bounding_boxes(canvas, tensor, labels=_texts(boxes, with_scores) or None, colors=colour,
                                         width=width)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas.permute(1, 2, 0).numpy()).save(path, format="PNG")
    return canvas
