"""Tiny random speech models saved as local backbone folders, and small audio files built in tmp dirs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.offline import offline_single_thread  # noqa: F401 - autouse: offline, one thread

ASSETS = Path(__file__).resolve().parents[2] / "flash" / "audio" / "speech_recognition" / "assets"


def _save(backbone, folder: Path) -> Path:
    backbone.model.save_pretrained(folder)
    backbone.tokenizer.save_pretrained(folder)
    backbone.feature_extractor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def ctc_folder(tmp_path_factory) -> Path:
    """A tiny random wav2vec2 CTC model + Wav2Vec2CTCTokenizer + feature extractor, saved with save_pretrained."""
    from flash.audio.speech_recognition.backbones import tiny_wav2vec2_ctc

    torch.manual_seed(0)
    return _save(tiny_wav2vec2_ctc(), tmp_path_factory.mktemp("tiny_ctc"))


@pytest.fixture(scope="session")
def whisper_folder(tmp_path_factory) -> Path:
    """A tiny random Whisper (byte-level BPE tokenizer, 2-second window), saved with save_pretrained."""
    from flash.audio.speech_recognition.backbones import tiny_whisper

    torch.manual_seed(0)
    return _save(tiny_whisper(), tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture(scope="session")
def speech_rows() -> list[dict]:
    """The bundled espeak-ng clips: ``{"file", "text", "voice"}`` with absolute paths."""
    with open(ASSETS / "transcripts.csv", newline="") as handle:
        return [{**row, "file": str(ASSETS / row["file"])} for row in csv.DictReader(handle)]


def tone(seconds: float, rate: int, freqs=(220.0, 660.0, 1500.0)) -> np.ndarray:
    """A band-limited test signal (all partials below 4 kHz, so 8 kHz sampling keeps it intact)."""
    t = np.arange(int(round(seconds * rate))) / rate
    return (sum(np.sin(2 * np.pi * f * t) for f in freqs) / (2 * len(freqs))).astype(np.float32)


@pytest.fixture
def write_wav(tmp_path):
    """``write_wav(name, array, rate)`` -> path of a 16-bit WAV (or FLAC/OGG/MP3 by extension) in tmp_path."""

    def write(name: str, array: np.ndarray, rate: int = 16000) -> str:
        path = tmp_path / name
        sf.write(path, array, rate)
        return str(path)

    return write
