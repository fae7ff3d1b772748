"""Turn what a client sent (uploaded files, JSON strings, base64, URLs) into model inputs, or a 4xx error.

Each decoder reads bytes in memory (nothing is written to disk) and raises :class:`RequestError`
with the HTTP status and a message that names the input and the fix.

Example:
    >>> decode_text(b"  a fine film ", name="review.txt")
    'a fine film'
    >>> decode_text(b"   ", name="review.txt")
    Traceback (most recent call last):
    ...
    flash.serve.inputs.RequestError: Text 'review.txt' is empty. Send some text. Received: 3 bytes
"""

from __future__ import annotations

import base64
import binascii
import io
import urllib.request
from typing import Any

from flash.errors import DataError, FlashError


class RequestError(FlashError):
    """A request the server cannot answer; ``status`` is its HTTP status (4xx)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decode_image(data: bytes, *, name: str, min_size: tuple[int, int] | None = None) -> Any:
    """Bytes of a PNG/JPEG/... file -> an upright RGB PIL image, as ``flash predict`` reads the same file
    (EXIF orientation, transparency on white, JPEG draft decoding to ``min_size``); 415 when it is not an image."""
    from PIL import Image, UnidentifiedImageError

    from flash.image.io import draft, to_rgb, upright

    try:
        with Image.open(io.BytesIO(data)) as image:
            if min_size is not None:
                draft(image, min_size)
            image.load()
            return to_rgb(upright(image))
    except Image.DecompressionBombError as err:
        raise RequestError(f"Image '{name}' has too many pixels ({err}). Send a smaller image.", status=413) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        reason = "unknown format" if isinstance(err, UnidentifiedImageError) else str(err).split("\n")[0]
        raise RequestError(f"'{name}' is not an image flash can read (PNG, JPEG, BMP, GIF, TIFF, WebP): "
                           f"{reason or type(err).__name__}. Received: {len(data)} bytes", status=415) from None


def decode_audio(data: bytes, *, name: str, sampling_rate: int) -> Any:
    """Bytes of a WAV/FLAC/OGG/MP3 file -> a mono float32 waveform at ``sampling_rate`` (415 when unreadable)."""
    from flash.audio.speech_recognition.io import read_audio

    try:
        return read_audio(data, sampling_rate=sampling_rate, name=name)
    except DataError as err:
        raise RequestError(f"{err} Received: {len(data)} bytes", status=415) from None


def decode_text(data: bytes | str, *, name: str) -> str:
    """UTF-8 bytes or a string -> the stripped text (422 when empty, 415 when not UTF-8)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(f"Text '{name}' is not UTF-8. Send UTF-8 text. Received: {len(data)} bytes",
                               status=415) from None
    else:
        text = data
    if not text.strip():
        raise RequestError(f"Text '{name}' is empty. Send some text. Received: {len(text)} "
                           f"{'bytes' if isinstance(data, bytes) else 'characters'}", status=422)
    return text.strip()


def decode(data: bytes, *, kind: str, name: str, sampling_rate: int | None = None,
           image_min_size: tuple[int, int] | None = None) -> Any:
    """Decode one uploaded file for a model whose inputs are ``kind`` (image, text or audio)."""
    if not data:
        raise RequestError(f"Upload '{name}' is empty (0 bytes). Send the file's contents.", status=422)
    if kind == "image":
        return decode_image(data, name=name, min_size=image_min_size)
    if kind == "audio":
        return decode_audio(data, name=name, sampling_rate=int(sampling_rate or 16000))
    return decode_text(data, name=name)


def json_item_bytes(value: Any, *, index: int, allow_urls: bool, max_bytes: int) -> tuple[str, bytes]:
    """A JSON input for an image/audio model: base64 (or a ``data:`` URL) or, if allowed, an http(s) URL."""
    name = f"inputs[{index}]"
    if not isinstance(value, str) or not value:
        raise RequestError(f"{name} must be a non-empty string (base64 data or a URL). "
                           f"Received: {name}={type(value).__name__}", status=422)
    if value.startswith(("http://", "https://")):
        if not allow_urls:
            raise RequestError(f"{name} is a URL, and this server does not fetch URLs (start it with --allow-urls). "
                               f"Send the file as base64 or a multipart upload. Received: {name}={value[:80]!r}")
        return value, _fetch(value, name=name, max_bytes=max_bytes)
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return name, base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{name} is neither valid base64 nor an http(s) URL. "
                           f"Received: {name}={value[:40]!r}...", status=422) from None


def _fetch(url: str, *, name: str, max_bytes: int, timeout: float = 10.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked above
            data = response.read(max_bytes + 1)
    except OSError as err:
        raise RequestError(f"Cannot fetch {name} from {url!r}: {err}.", status=422) from None
    if len(data) > max_bytes:
        raise RequestError(f"{name} at {url!r} is larger than the server's limit of {max_bytes} bytes.", status=413)
    return data
