"""Built-in demo for ``flash train speech_recognition`` with no data: works offline on a fresh machine.

Twenty short words synthesised with espeak-ng (two voices, 16 kHz mono; see
``tests/audio/make_speech_assets.py``) ship in ``assets/``. The demo trains a tiny random
wav2vec2 CTC model (characters a-z and ') on one voice and validates on the other.

Example:
    >>> datamodule = demo_datamodule(batch_size=4)
    >>> len(datamodule.train_dataset), len(datamodule.val_dataset)
    (10, 10)
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from flash.audio.speech_recognition.data import SpeechRecognitionData
from flash.audio.speech_recognition.entry import ENTRY

ASSETS = Path(__file__).resolve().parent / "assets"
# the entry holds the demo's typed configuration; these plain dicts are for scripts and notebooks
DEMO_MODEL: dict[str, Any] = dict(ENTRY.demo.model)
DEMO_TRAINER: dict[str, Any] = dict(ENTRY.demo.trainer)


def demo_rows() -> list[dict[str, str]]:
    """``[{"file": absolute path, "text": transcript, "voice": "m" | "f"}, ...]`` of the bundled clips."""
    with open(ASSETS / "transcripts.csv", newline="", encoding="utf-8") as handle:
        return [{**row, "file": str(ASSETS / row["file"])} for row in csv.DictReader(handle)]


def demo_datamodule(**kwargs: Any) -> SpeechRecognitionData:
    """Train on the male voice, validate on the female one, predict three of the female clips."""
    rows = demo_rows()
    train = [r for r in rows if r["voice"] == "m"]
    val = [r for r in rows if r["voice"] == "f"]
    kwargs.setdefault("batch_size", 4)
    return SpeechRecognitionData.from_files(
        [r["file"] for r in train], [r["text"] for r in train], val_files=[r["file"] for r in val],
        val_targets=[r["text"] for r in val], predict_files=[r["file"] for r in val[:3]], **kwargs)


def write_inputs(folder: str | Path, *, count: int = 2, seed: int = 0) -> list[str]:
    """Write ``count`` new WAV files into ``folder`` (demo clips with light noise added); their paths."""
    import numpy as np

    from flash.errors import require

    soundfile = require("soundfile", "audio", purpose="writing audio files")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for row in demo_rows()[:count]:
        data, rate = soundfile.read(row["file"], dtype="float32")
        path = folder / f"noisy_{Path(row['file']).name}"
        soundfile.write(path, data + rng.normal(0, 0.005, data.shape).astype("float32"), rate)
        paths.append(str(path))
    return paths
