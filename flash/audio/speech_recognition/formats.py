"""The audio file types the speech recognizer reads (soundfile's formats), without importing torch or soundfile:
the task's entry names these, so ``flash data inspect`` and ``--data`` detection check suffixes cheaply.

Example:
    >>> is_audio_file("clips/0001.FLAC"), is_audio_file("notes.txt")
    (True, False)
"""

from __future__ import annotations

import os

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".w64", ".rf64")


def is_audio_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(AUDIO_EXTENSIONS)
