"""Drawing class maps: a colour per class, overlays on the image, class-index PNGs.

Colours come from ``labels_map`` (``{class: (r, g, b)}``) where it names a class, else from the Pascal VOC
palette (class 0 black, then distinct colours), so a class keeps its colour across files, pages and runs.

Example:
    >>> palette(3).tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def palette(num_classes: int, labels_map: Mapping[int, Sequence[int]] | None = None) -> np.ndarray:
    """``(max(num_classes, 256), 3)`` uint8 colours; index ``i`` is class ``i``'s (255, the ignored value, white)."""
    size = max(num_classes, 256)
    colours = np.zeros((size, 3), dtype=np.uint8)
    for index in range(size):  # the Pascal VOC colour map: bits of the index spread over r, g, b
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colours[index] = (r, g, b)
    colours[255] = (255, 255, 255)
    for index, colour in (labels_map or {}).items():
        if 0 <= int(index) < size:
            colours[int(index)] = tuple(int(c) for c in colour)
    return colours


def as_class_map(prediction: Any) -> np.ndarray:
    """A class map as nested lists, a NumPy array or a tensor -> ``(H, W)`` int64 array."""
    if hasattr(prediction, "detach"):
        prediction = prediction.detach().cpu().numpy()
    array = np.asarray(prediction)
    if array.ndim == 3:  # (C, H, W) scores
        array = array.argmax(0)
    return array.astype(np.int64)


def colour_mask(classes: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """``(H, W)`` classes -> ``(H, W, 3)`` uint8 colours."""
    return colours[np.clip(classes, 0, len(colours) - 1)]


def overlay(image: Any, classes: np.ndarray, colours: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The image with its class colours laid over it (class 0 left clear), ``(H, W, 3)`` uint8.

    ``image`` is anything :func:`flash.image.io.as_rgb_image` reads; it is resized to the class map when sizes
    differ. Without an image (None), the colour mask itself.
    """
    painted = colour_mask(classes, colours).astype(np.float32)
    if image is None:
        return painted.astype(np.uint8)
    from flash.image.io import as_rgb_image

    picture = as_rgb_image(image)
    if (picture.height, picture.width) != classes.shape:
        picture = picture.resize((classes.shape[1], classes.shape[0]))
    base = np.asarray(picture, dtype=np.float32)
    weight = np.where(classes[..., None] > 0, alpha, 0.0).astype(np.float32)
    return (base * (1.0 - weight) + painted * weight).round().astype(np.uint8)


def transparent_overlay(classes: np.ndarray, colours: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """``(H, W, 4)`` RGBA: class colours at ``alpha``, class 0 transparent; laid over the image by a viewer."""
    rgba = np.zeros((*classes.shape, 4), dtype=np.uint8)
    rgba[..., :3] = colour_mask(classes, colours)
    rgba[..., 3] = np.where(classes > 0, round(alpha * 255), 0)
    return rgba


def png_bytes(array: np.ndarray) -> bytes:
    """An ``(H, W)`` class map (8-bit, or 16-bit above 255) or an RGB/RGBA array -> PNG bytes."""
    from PIL import Image

    if array.ndim == 2:
        array = array.astype(np.uint8 if array.max(initial=0) <= 255 and array.min(initial=0) >= 0 else np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(array: np.ndarray, path: str | os.PathLike) -> None:
    with open(path, "wb") as handle:
        handle.write(png_bytes(array))
