"""The ``serve`` and ``write`` adapters: a predicted class map as a JSON answer and as files.

``SERVE.encode`` answers ``{"mask": base64 PNG of class indices, "overlay": base64 PNG, "size": [H, W],
"classes": {class: pixels}}``; the overlay holds the class colours on a transparent background, which the
serve page draws over the uploaded image. ``write`` saves ``<name>_mask.png`` (class indices) and
``<name>_overlay.png`` (the colours blended into the input image).

Example:
    >>> answer = encode([[0, 1], [1, 1]])
    >>> answer["size"], answer["classes"]
    ([2, 2], {'0': 1, '1': 3})
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import numpy as np

from flash.image.segmentation.visualize import (
    as_class_map,
    overlay,
    palette,
    png_bytes,
    save_png,
    transparent_overlay,
)
from flash.image.serving import image_serving


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def settings(model: Any) -> dict[str, Any]:
    """Uploads are decoded whole (a mask has the upload's every pixel); nothing else is needed to read them."""
    return {"image_min_size": None}


def encode(prediction: Any) -> dict[str, Any]:
    """A class map -> ``{"mask", "overlay", "size", "classes"}``: the class indices as a PNG, the class colours as
    an RGBA PNG (class 0 transparent; the page draws it half-transparent over the upload), both base64."""
    classes = as_class_map(prediction)
    colours = palette(int(classes.max(initial=0)) + 1)
    values, counts = np.unique(classes, return_counts=True)
    return {"mask": _b64(png_bytes(classes)), "overlay": _b64(png_bytes(transparent_overlay(classes, colours))),
            "size": list(classes.shape), "classes": {str(int(v)): int(c) for v, c in zip(values, counts)}}


SERVE = image_serving(settings=settings, encode=encode)


def write(prediction: Any, *, source: Any, folder: str | os.PathLike) -> list[Path]:
    """Write one image's class map as ``<name>_mask.png`` (class indices) and ``<name>_overlay.png`` into ``folder``.

    ``source`` is the input as given to ``flash predict`` (a path: its image is drawn under the overlay).
    """
    classes = as_class_map(prediction)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    is_path = isinstance(source, (str, os.PathLike))
    stem = Path(source).stem if is_path else "prediction"
    mask_path, overlay_path = folder / f"{stem}_mask.png", folder / f"{stem}_overlay.png"
    save_png(classes, mask_path)
    colours = palette(int(classes.max(initial=0)) + 1)
    image = source if is_path and Path(source).is_file() else None
    save_png(overlay(image, classes, colours), overlay_path)
    return [mask_path, overlay_path]
