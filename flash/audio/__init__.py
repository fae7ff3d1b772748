"""Audio tasks (need ``pip install "flash-finetune[audio]"``)."""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY = {
    "SpeechRecognizer": "flash.audio.speech_recognition.model",
    "SpeechRecognition": "flash.audio.speech_recognition.model",
    "SpeechRecognitionData": "flash.audio.speech_recognition.data",
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
