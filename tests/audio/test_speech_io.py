"""Audio reading: formats, mono mixdown, resampling, and errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from flash.audio.speech_recognition.io import audio_from_array, read_audio
from flash.errors import DataError
from tests.audio.conftest import tone


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_read_audio_formats_without_ffmpeg(tmp_path, suffix):
    signal = tone(0.5, 16000)
    path = tmp_path / f"clip{suffix}"
    sf.write(path, signal, 16000)
    waveform = read_audio(path, sampling_rate=16000)
    assert waveform.dtype == torch.float32 and waveform.ndim == 1
    assert abs(waveform.shape[0] - 8000) <= 2000  # lossy codecs add a little padding
    if suffix in (".wav", ".flac"):
        assert np.allclose(waveform.numpy(), signal, atol=1e-3)


def test_stereo_is_mixed_to_mono(tmp_path):
    left, right = tone(0.25, 16000, (300.0,)), tone(0.25, 16000, (900.0,))
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(read_audio(path, sampling_rate=16000).numpy(), (left + right) / 2, atol=1e-6)
    channels_first = audio_from_array(np.stack([left, right]), sampling_rate=16000)
    assert np.allclose(channels_first.numpy(), (left + right) / 2, atol=1e-6)


def test_resampling_keeps_duration_and_signal(tmp_path):
    reference = tone(1.0, 16000)
    for rate in (8000, 22050, 44100):
        path = tmp_path / f"tone_{rate}.wav"
        sf.write(path, tone(1.0, rate), rate, subtype="FLOAT")
        waveform = read_audio(path, sampling_rate=16000).numpy()
        assert waveform.shape == (16000,)
        middle = slice(400, -400)  # filter edges
        assert np.abs(waveform[middle] - reference[middle]).max() < 0.02, rate


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"missing\.wav.*does not exist"):
        read_audio(tmp_path / "missing.wav", sampling_rate=16000)


def test_unreadable_file_is_named(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00 definitely not audio")
    with pytest.raises(DataError, match=r"broken\.wav.*corrupt"):
        read_audio(path, sampling_rate=16000)


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(DataError, match=r"empty\.wav.*empty \(0 samples\)"):
        read_audio(path, sampling_rate=16000)
    with pytest.raises(DataError, match="empty"):
        audio_from_array(np.zeros(0), sampling_rate=16000)


def test_nan_array_is_rejected():
    with pytest.raises(DataError, match="NaN"):
        audio_from_array(np.array([0.0, np.nan]), sampling_rate=16000)
