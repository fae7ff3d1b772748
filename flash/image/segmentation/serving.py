"""The ``serve`` and ``write`` adapters: a predicted class map as a JSON answer and as files.

``SERVE.encode`` answers ``{"mask": base64 PNG of class indices, "overlay": base64 PNG, "size": [H, W],
"classes": {class: pixels}}``; the overlay is the image with class colours laid over it when the image is
given (``encode(prediction, image=...)``), else the class colours on a transparent background, to lay over
the image the client sent. ``write`` saves ``<name>_mask.png`` (class indices) and ``<name>_overlay.png``.

Example:
    >>> answer = SERVE.encode([[0, 1], [1, 1]])
    >>> answer["size"], answer["classes"]
    ([2, 2], {'0': 1, '1': 3})
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from flash.errors import DataError
from flash.image.segmentation.visualize import (
    as_class_map,
    overlay,
    palette,
    png_bytes,
    save_png,
    transparent_overlay,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Serve:
    """How ``flash serve`` reads an image for a segmentation model and answers with its masks."""

    input_kind = "image"

    def settings(self, model: Any) -> dict[str, Any]:
        """What decoding and drawing need from a trained model: nothing to decode at reduced size (masks are per
        pixel), the class count and colours."""
        return {"image_min_size": None, "num_classes": int(model.num_classes),
                "labels_map": {str(k): list(v) for k, v in (model.labels_map or {}).items()},
                "labels": list(model.labels) if model.labels else None}

    def decode(self, data: bytes, *, name: str, settings: dict[str, Any] | None = None) -> Any:
        """Bytes of an image file -> an upright RGB PIL image; a DataError naming ``name`` when it is none."""
        from PIL import Image

        from flash.image.io import to_rgb, upright

        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return to_rgb(upright(image))
        except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"'{name}' is not an image flash can read (PNG, JPEG, BMP, GIF, TIFF, WebP): {reason}. "
                            f"Send an image file. Received: {len(data)} bytes") from None

    def encode(self, prediction: Any, *, image: Any = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """A class map -> ``{"mask", "overlay", "size", "classes"}`` (PNGs as base64)."""
        classes = as_class_map(prediction)
        settings = settings or {}
        colours = palette(int(settings.get("num_classes") or 0),
                          {int(k): v for k, v in (settings.get("labels_map") or {}).items()})
        drawn = overlay(image, classes, colours) if image is not None else transparent_overlay(classes, colours)
        values, counts = np.unique(classes, return_counts=True)
        return {"mask": _b64(png_bytes(classes)), "overlay": _b64(png_bytes(drawn)), "size": list(classes.shape),
                "classes": {str(int(v)): int(c) for v, c in zip(values, counts)}}


SERVE = Serve()


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
