"""The tasks the ``flash`` command knows, by name. Pure data: importing this imports no torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from flash.errors import ConfigurationError, close_matches, install_hint


@dataclass(frozen=True)
class TaskEntry:
    name: str
    model: str  # "module:Class"
    data: str
    demo: str  # module with demo_datamodule(), DEMO_MODEL, DEMO_TRAINER
    extra: str  # pip extra
    summary: str

    def load(self, which: str) -> Any:
        module, _, attr = getattr(self, which).partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as err:
            raise ConfigurationError(
                f"The {self.name} task needs packages that are not installed ({err}). "
                f"Install them with: {install_hint(self.extra)}"
            ) from err
        return getattr(mod, attr) if attr else mod


TASKS: dict[str, TaskEntry] = {
    t.name: t
    for t in (
        TaskEntry("image_classification", "flash.image.classification.model:ImageClassifier",
                  "flash.image.classification.data:ImageClassificationData", "flash.image.classification.demo",
                  "image", "classify images (folders of class folders, CSV, arrays)"),
        TaskEntry("object_detection", "flash.image.detection.model:ObjectDetector",
                  "flash.image.detection.data:ObjectDetectionData", "flash.image.detection.demo",
                  "image", "find and label objects with boxes (COCO, VOC)"),
        TaskEntry("text_classification", "flash.text.classification.model:TextClassifier",
                  "flash.text.classification.data:TextClassificationData", "flash.text.classification.demo",
                  "text", "classify texts (CSV, JSON, Parquet)"),
        TaskEntry("speech_recognition", "flash.audio.speech_recognition.model:SpeechRecognizer",
                  "flash.audio.speech_recognition.data:SpeechRecognitionData", "flash.audio.speech_recognition.demo",
                  "audio", "transcribe speech (audio files + transcripts)"),
    )
}


def get_task(name: str) -> TaskEntry:
    key = name.replace("-", "_")
    if key not in TASKS:
        hint = close_matches(key, TASKS, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigurationError(f"Unknown task {name!r}.{did_you_mean} Tasks: {', '.join(TASKS)}. See `flash list tasks`.")
    return TASKS[key]


def task_for_model_class(class_path: str) -> TaskEntry | None:
    """The entry whose model class is ``module:Class`` (as stored in checkpoints)."""
    return next((t for t in TASKS.values() if t.model == class_path), None)
