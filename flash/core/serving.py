"""What task adapters share to serve a model or run an exported file: the ``serve`` adapter's shape
(:class:`Serving`), the error a bad served input raises, UTF-8 text decoding, classification answers from ONNX
logits, and loading the tokenizer files an export stores. Importing it imports no torch.

A task's ``serve`` adapter decodes one served input with its own reader; when the input is unreadable it
raises :class:`InputError` (a ``DataError`` naming the input), which ``flash serve`` answers with ``status``.

Example:
    >>> decode_text(b"  a fine film ", name="review.txt")
    'a fine film'
    >>> decode_text(b"   ", name="review.txt")
    Traceback (most recent call last):
    ...
    flash.core.serving.InputError: Text 'review.txt' is empty. Send some text. Received: 3 bytes
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flash.errors import ConfigurationError, DataError


class InputError(DataError):
    """A served input that cannot be read; ``status`` is the HTTP status to answer with (415: unsupported)."""

    def __init__(self, message: str, *, status: int = 415) -> None:
        super().__init__(message)
        self.status = status


def plain_answer(prediction: Any) -> Any:
    """A prediction as JSON values (tensors and arrays become lists; plain values are returned as they are)."""
    from flash.core.nested import to_plain

    return to_plain(prediction)


@dataclass(frozen=True)
class Serving:
    """A task's ``serve`` adapter: what ``flash serve`` needs to read the task's inputs and write its answers.

    Args:
        input_kind: ``"image"``, ``"text"`` or ``"audio"``: the page's form, and whether JSON inputs are strings
            (text) or base64 files.
        settings: ``settings(model) -> dict``: what decoding needs from a trained model, e.g.
            ``{"image_min_size": (h, w)}``; an exported model's ONNX runner gives the same dict.
        decode: ``decode(data: bytes, *, name, settings) -> input``: one uploaded file (or UTF-8 text) -> what the
            model's ``predict`` takes; raises :class:`InputError` (a ``DataError``) naming ``name``.
        encode: ``encode(prediction) -> JSON value``; by default :func:`plain_answer`.

    Example:
        >>> adapter = Serving("text", settings=lambda model: {}, decode=decode_text)
        >>> adapter.decode(b" great ", name="review", settings={}), adapter.encode("positive")
        ('great', 'positive')
    """

    input_kind: Literal["image", "text", "audio"]
    settings: Callable[[Any], dict[str, Any]]
    decode: Callable[..., Any]
    encode: Callable[[Any], Any] = plain_answer


def decode_text(data: bytes, *, name: str, settings: dict[str, Any] | None = None) -> str:
    """UTF-8 bytes -> the stripped text; 415 when they are not UTF-8, 422 when the text is empty.

    ``settings`` is unused (texts need none): the signature is :class:`Serving`'s ``decode``.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"Text '{name}' is not UTF-8 (byte {err.start} is {data[err.start:err.start + 1]!r}). "
                         f"Send UTF-8 text. Received: {len(data)} bytes") from None
    if not text.strip():
        raise InputError(f"Text '{name}' is empty. Send some text. Received: {len(data)} bytes", status=422)
    return text.strip()


def classify_logits(logits: Any, metadata: dict[str, Any]) -> list:
    """ONNX logits ``(B, C)`` (a NumPy array) -> one label per row, as a classifier's ``predict`` gives them.

    ``metadata`` is what the export stored: ``labels`` and ``multi_label``.
    """
    import torch

    from flash.core.outputs import classification_output

    return classification_output(torch.from_numpy(logits), "labels", multi_label=metadata.get("multi_label", False),
                                 labels=metadata.get("labels"))


def load_stored_files(metadata: dict[str, Any], load: Callable[[str], Any]) -> Any:
    """``load(folder)`` on the files an export stored (``metadata["files"]``, base64 by name, see
    :func:`flash.core.exporting.encode_files`), written to a temporary folder that is removed afterwards.

    Example: ``load_stored_files(metadata, transformers.AutoTokenizer.from_pretrained)``.
    """
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder).resolve()
        for name, data in metadata["files"].items():
            path = (root / name).resolve()
            if root not in path.parents:
                raise ConfigurationError(f"Refusing to write stored file {name!r} outside its folder. "
                                         f"Export the model again with `flash export`. Received: file={name!r}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
        return load(folder)
