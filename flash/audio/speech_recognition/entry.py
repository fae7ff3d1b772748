"""The speech recognition task, as the ``flash`` command and every all-task package see it (torch-free).

Example:
    >>> from flash.audio.speech_recognition.entry import ENTRY
    >>> ENTRY.name, ENTRY.demo.model["backbone"]
    ('speech_recognition', 'tiny-wav2vec2-ctc')
"""

from __future__ import annotations

from pathlib import Path

from flash.core.entry import Demo, Detected, TaskEntry
from flash.core.recognise import detect_table


def detect(path: Path, *, val_split: float) -> Detected | None:
    """A table of audio paths and transcripts (or a folder holding one) -> ``from_csv`` / ``from_json``."""
    return detect_table(path, input_ext=ENTRY.file_extensions(), val_split=val_split, root_key="train_audio_root")


ENTRY = TaskEntry(
    name="speech_recognition",
    model="flash.audio.speech_recognition.model:SpeechRecognizer",
    data="flash.audio.speech_recognition.data:SpeechRecognitionData",
    demo=Demo(datamodule="flash.audio.speech_recognition.demo:demo_datamodule",
              model={"backbone": "tiny-wav2vec2-ctc", "learning_rate": 3e-3},
              trainer={"max_epochs": 3},
              inputs="flash.audio.speech_recognition.demo:write_inputs"),
    extra="audio",
    summary="transcribe speech (audio files + transcripts)",
    expects="a CSV/JSON file of audio paths and transcripts (or a folder holding one)",
    extensions="flash.audio.speech_recognition.formats:AUDIO_EXTENSIONS",
    detect=detect,
    adapters={
        "serve": "flash.audio.speech_recognition.serving:SERVE",
        "export": "flash.audio.speech_recognition.exporting:export_spec",
        "onnx": "flash.audio.speech_recognition.onnx_runner:SpeechRecognitionRunner",
        "report": "flash.audio.speech_recognition.reporting:SpeechRecognitionReport",
        "inspect": "flash.audio.speech_recognition.inspection:INSPECT",
    },
)
