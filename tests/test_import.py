"""``import flash`` stays light, and the public API is pinned."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import flash

HEAVY = ("torch", "torchvision", "timm", "transformers", "torchaudio", "datasets", "matplotlib", "pandas")


def test_import_flash_loads_no_heavy_library():
    code = f"import json, sys, flash; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert json.loads(result.stdout) == []


def test_public_api_is_pinned():
    assert flash.__all__ == [
        "CSVLogger", "Callback", "DataModule", "EarlyStopping", "ImageClassificationData", "ImageClassifier",
        "InputTransform",
        "LearningRateMonitor", "ModelCheckpoint", "ObjectDetectionData", "ObjectDetector", "ProgressBar", "Registry",
        "SpeechRecognition", "SpeechRecognitionData", "SpeechRecognizer", "Task", "TensorBoardLogger",
        "TextClassificationData", "TextClassifier", "Trainer", "TrainingModule", "Tuner", "plot_metrics", "report",
        "seed_everything",
        "__version__",
    ]
    assert set(flash.__all__) <= set(dir(flash))


@pytest.mark.parametrize("name", sorted(flash._LAZY))
def test_public_names_resolve(name):
    module = flash._LAZY[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    value = getattr(flash, name)
    assert value is getattr(importlib.import_module(module), name) and value is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Trainr'"):
        flash.Trainr  # noqa: B018
