"""How ``flash serve`` reads an object detector's uploads and writes its answers (the entry's ``serve`` adapter).

Answers are ``{"boxes": [[x1, y1, x2, y2], ...], "labels": [...], "scores": [...]}`` in the uploaded image's
pixels; the page draws the ``boxes``.

Example:
    >>> SERVE.input_kind
    'image'
"""

from __future__ import annotations

from typing import Any

from flash.core.serving import Serving
from flash.image.io import decode_image


def settings(model: Any) -> dict[str, Any]:
    """JPEG uploads are decoded at the scale the model's transform asks for (``decode_size``; None: whole)."""
    return {"image_min_size": model.input_transform.decode_size()}


def decode(data: bytes, *, name: str, settings: dict[str, Any]) -> Any:
    """An uploaded image file -> upright RGB, as ``flash predict`` reads the same file."""
    return decode_image(data, name=name, min_size=settings.get("image_min_size"))


SERVE = Serving("image", settings=settings, decode=decode)
