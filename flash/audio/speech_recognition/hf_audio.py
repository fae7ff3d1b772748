"""A Hugging Face ``Audio`` feature that passes encoded audio through untouched, so soundfile reads it.

``datasets`` decodes audio with torchcodec (which needs FFmpeg libraries), and a streamed dataset even
*encodes* every item with it: an ``Audio`` column, ``decode=False`` or not, fails on a machine without
torchcodec. :class:`UndecodedAudio` keeps the cell as the builder gave it (a path, the file's bytes, or
``{"bytes", "path"}``) and never decodes; :func:`flash.audio.speech_recognition.io.read_audio` then reads it.
This module imports ``datasets`` (the ``data`` extra): import it only for a Hugging Face dataset.

Example:
    >>> stream = stream.cast_column("audio", UndecodedAudio(decode=False))  # doctest: +SKIP
    >>> next(iter(stream))["audio"]  # doctest: +SKIP
    {'bytes': None, 'path': 'clips/go.wav'}
"""

from __future__ import annotations

from typing import Any

from flash.errors import require

# a Hugging Face dataset was given, so datasets is installed; require() names the extra should it not be
Audio: Any = require("datasets", "data", purpose="Hugging Face audio columns").Audio


class UndecodedAudio(Audio):
    """``Audio`` (made with ``decode=False``) encoding paths and bytes without torchcodec (arrays still need it)."""

    def encode_example(self, value: Any) -> dict:
        if isinstance(value, str):
            return {"bytes": None, "path": value}
        if isinstance(value, (bytes, bytearray)):
            return {"bytes": bytes(value), "path": None}
        if isinstance(value, dict) and "array" not in value and ("bytes" in value or "path" in value):
            return {"bytes": value.get("bytes"), "path": value.get("path")}
        return super().encode_example(value)


def undecoded(dataset: Any) -> Any:
    """``dataset`` (a ``Dataset`` or ``IterableDataset``) with each ``Audio`` column cast to :class:`UndecodedAudio`."""
    features = getattr(dataset, "features", None) or {}
    for name, feature in features.items():
        if isinstance(feature, Audio) and not isinstance(feature, UndecodedAudio):
            dataset = dataset.cast_column(name, UndecodedAudio(decode=False))
    return dataset
