"""Turn what a client sent (uploaded files, form fields, JSON strings, base64, URLs) into model inputs, or a 4xx.

The task's ``serve`` adapter decodes the bytes (in memory: nothing is written to disk); this module checks what
every task shares and turns a ``DataError`` into :class:`RequestError`, with the HTTP status and a message that
names the input and the fix.

Example:
    >>> checked_text(b"  a fine film ", name="review")
    b'a fine film'
    >>> checked_text(b"\\xff", name="review")
    Traceback (most recent call last):
    ...
    flash.serve.inputs.RequestError: Text 'review' is not UTF-8 (byte 0 is b'\\xff'). Send UTF-8 text. Received: 1 bytes
"""

from __future__ import annotations

import base64
import binascii
import urllib.request
from collections.abc import Callable
from typing import Any

from flash.core.serving import decode_text
from flash.errors import DataError, FlashError


class RequestError(FlashError):
    """A request the server cannot answer; ``status`` is its HTTP status (4xx, or 503 when it is busy), with
    ``headers`` to send along (e.g. ``Retry-After``)."""

    def __init__(self, message: str, *, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


def decode_upload(decode: Callable[..., Any], data: bytes, *, name: str) -> Any:
    """``decode(data, name=name)`` (a predictor's, from its task's serve adapter) on one uploaded input.

    Empty data is 422; a ``DataError`` becomes a RequestError with the error's ``status`` (415 when it has none).
    """
    if not data:
        raise RequestError(f"Upload '{name}' is empty (0 bytes). Send the file's contents.", status=422)
    try:
        return decode(data, name=name)
    except DataError as err:
        raise RequestError(str(err), status=getattr(err, "status", 415)) from None


def checked_text(data: bytes, *, name: str) -> bytes:
    """A text sent as a form field or a JSON string: its stripped UTF-8 bytes (415 when not UTF-8, 422 when empty)."""
    try:
        return decode_text(data, name=name).encode("utf-8")
    except DataError as err:
        raise RequestError(str(err), status=getattr(err, "status", 415)) from None


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
