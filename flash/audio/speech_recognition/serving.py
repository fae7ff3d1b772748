"""How ``flash serve`` reads a speech recognizer's uploads (audio files) and writes its transcripts (the entry's
``serve`` adapter).

Example:
    >>> SERVE.input_kind
    'audio'
"""

from __future__ import annotations

from typing import Any

from flash.audio.speech_recognition.io import read_audio
from flash.core.serving import InputError, Serving
from flash.errors import DataError

DEFAULT_SAMPLING_RATE = 16000


def settings(model: Any) -> dict[str, Any]:
    """Uploads are resampled to the model's sampling rate."""
    return {"sampling_rate": model.sampling_rate}


def decode(data: bytes, *, name: str, settings: dict[str, Any]) -> Any:
    """A WAV/FLAC/OGG/MP3 file -> a mono float32 waveform at the model's rate (415 when unreadable)."""
    try:
        return read_audio(data, sampling_rate=int(settings.get("sampling_rate") or DEFAULT_SAMPLING_RATE), name=name)
    except DataError as err:
        raise InputError(f"{err} Received: {len(data)} bytes") from None


SERVE = Serving("audio", settings=settings, decode=decode)
