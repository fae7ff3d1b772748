"""Reading audio with soundfile (WAV, FLAC, OGG, MP3; no FFmpeg), mixed to mono, resampled.

``torchaudio.load`` is not used: since torchaudio 2.9 it needs torchcodec plus FFmpeg libraries.
Every error names the file (or the array) and says how to fix it.

Example:
    >>> waveform = read_audio("speech.wav", sampling_rate=16000)  # doctest: +SKIP
    >>> waveform.shape  # (num_samples,) float32 at 16 kHz  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flash.audio.speech_recognition.formats import AUDIO_EXTENSIONS, is_audio_file  # noqa: F401 - re-exported
from flash.errors import DataError, require


def to_mono(array: Any, *, where: str, channels_last: bool | None = None) -> torch.Tensor:
    """A 1-D (samples) or 2-D array -> a float32 mono tensor (channels averaged).

    2-D arrays are (samples, channels) as soundfile gives them, or (channels, samples) as torchaudio
    does; ``channels_last=None`` takes the short side (at most 8) as the channels.
    """
    tensor = torch.as_tensor(np.asarray(array), dtype=torch.float32)
    if tensor.numel() == 0:
        raise DataError(f"Audio {where} is empty (0 samples). Remove it or replace it with a recording.")
    if tensor.ndim == 2:
        if channels_last is None:
            channels_last = not (tensor.shape[0] < tensor.shape[1] and tensor.shape[0] <= 8)
        tensor = tensor.mean(dim=1 if channels_last else 0)
    if tensor.ndim != 1:
        raise DataError(
            f"Audio {where} must be 1-D (samples) or 2-D (samples, channels); got shape {tuple(tensor.shape)}."
        )
    if not torch.isfinite(tensor).all():
        raise DataError(f"Audio {where} holds NaN or infinite samples. Replace the file or clean the array.")
    return tensor


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling (``torchaudio.functional.resample``); a no-op when the rates match."""
    if int(orig_rate) == int(new_rate):
        return waveform
    functional = require("torchaudio.functional", "audio", purpose="resampling audio")
    return functional.resample(waveform, int(orig_rate), int(new_rate))


def read_audio(source: str | os.PathLike | bytes, *, sampling_rate: int, name: str | None = None) -> torch.Tensor:
    """Read a file (or its bytes) as a mono float32 waveform at ``sampling_rate``.

    Args:
        source: a path, or the encoded file's bytes (e.g. a HF ``Audio(decode=False)`` cell).
        sampling_rate: the rate to resample to (the model's, usually 16 kHz).
        name: what to call ``source`` in errors (defaults to the path).
    """
    soundfile = require("soundfile", "audio", purpose="reading audio files")
    where = f"'{name or source}'" if not isinstance(source, bytes) else f"'{name or '<bytes>'}'"
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise DataError(f"Cannot read audio {where}: the file does not exist. Check the path (and the audio root).")
    try:
        data, rate = soundfile.read(
            io.BytesIO(source) if isinstance(source, bytes) else str(source), dtype="float32", always_2d=True
        )
    except Exception as err:  # noqa: BLE001 - soundfile raises LibsndfileError, RuntimeError, TypeError, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(
            f"Cannot read audio {where}: {reason}. Supported formats: WAV, FLAC, OGG, MP3 (and other libsndfile "
            "formats); the file is corrupt or in another format; convert it (e.g. to WAV) or remove it."
        ) from None
    return resample(to_mono(data, where=where, channels_last=True), rate, sampling_rate)


def audio_from_array(
    array: Any, *, sampling_rate: int, source_rate: int | None = None, name: str = "array"
) -> torch.Tensor:
    """An in-memory signal (numpy / tensor / list) -> mono float32 at ``sampling_rate``.

    ``source_rate`` is the rate the array was recorded at (default: already ``sampling_rate``).
    """
    waveform = to_mono(array, where=name)
    return resample(waveform, source_rate or sampling_rate, sampling_rate)
