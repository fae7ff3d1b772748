"""Audio tasks (need ``pip install "flash[audio]"``)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SpeechRecognizer": "flash.audio.speech_recognition.model",
    "SpeechRecognition": "flash.audio.speech_recognition.model",
    "SpeechRecognitionData": "flash.audio.speech_recognition.data",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'flash.audio' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
