"""What every image task's ``serve`` adapter shares: uploads decoded as ``flash predict`` reads the same file.

Example:
    >>> image_serving().input_kind
    'image'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flash.core.serving import Serving, plain_answer
from flash.image.io import decode_image


def decode_size_settings(model: Any) -> dict[str, Any]:
    """JPEG uploads are decoded at the scale training decoded the same files (the transform's ``decode_size``)."""
    return {"image_min_size": model.input_transform.decode_size()}


def decode(data: bytes, *, name: str, settings: dict[str, Any]) -> Any:
    """An uploaded image file -> upright RGB, as ``flash predict`` reads the same file."""
    return decode_image(data, name=name, min_size=settings.get("image_min_size"))


def image_serving(*, settings: Callable[[Any], dict[str, Any]] = decode_size_settings,
                  encode: Callable[[Any], Any] = plain_answer) -> Serving:
    """A ``serve`` adapter for a task whose inputs are images; ``encode`` writes its answers."""
    return Serving("image", settings=settings, decode=decode, encode=encode)
