"""Regenerate flash/audio/speech_recognition/assets/ (run once; needs `apt-get install espeak-ng`).

Synthesises each word with two espeak-ng voices, trims the silence around it, resamples
22,050 Hz -> 16 kHz with torchaudio, and writes 16-bit mono WAVs plus transcripts.csv.

    python tests/audio/make_speech_assets.py
"""

from __future__ import annotations

import csv
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

WORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go", "on", "off")
VOICES = {"m": "en-us", "f": "en-us+f3"}
ASSETS = Path(__file__).resolve().parents[2] / "flash" / "audio" / "speech_recognition" / "assets"


def synthesise(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True)
        return sf.read(path, dtype="float32")


def trim(audio: np.ndarray, *, threshold: float = 0.01, margin: int = 800) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[max(0, loud[0] - margin): loud[-1] + margin]


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    rows = []
    for word in WORDS:
        for tag, voice in VOICES.items():
            audio, rate = synthesise(word, voice)
            audio = torchaudio.functional.resample(torch.from_numpy(trim(audio)), rate, 16000).numpy()
            name = f"{word}_{tag}.wav"
            sf.write(ASSETS / name, audio, 16000, subtype="PCM_16")
            rows.append({"file": name, "text": word, "voice": tag})
    with open(ASSETS / "transcripts.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "text", "voice"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
