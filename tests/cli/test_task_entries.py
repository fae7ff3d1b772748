"""The task entries (``flash.tasks.ENTRIES``): complete, typed, torch-free, and the only place the CLI learns tasks."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flash.core.entry import Demo
from flash.errors import DataError
from flash.tasks import ENTRIES, TASKS, get_task, task_for_model_class

CLI = Path(__file__).resolve().parents[2] / "flash" / "cli"


def test_importing_the_entries_imports_no_torch(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import flash.tasks"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "numpy", "transformers", "timm", "torchvision"}


def test_the_cli_names_no_task():
    for path in CLI.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not [entry.name for entry in ENTRIES if entry.name in text], path


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.name for entry in ENTRIES])
def test_every_entry_resolves_and_its_demo_config_fits_its_model(entry):
    from flash.cli.train import model_kwargs
    from flash.core.data import DataModule
    from flash.core.task import Task

    model_cls, data_cls = entry.load("model"), entry.load("data")
    assert issubclass(model_cls, Task) and issubclass(data_cls, DataModule)
    assert task_for_model_class(f"{model_cls.__module__}:{model_cls.__name__}") is entry
    assert get_task(entry.name.replace("_", "-")) is entry and TASKS[entry.name] is entry
    module, _, builder = entry.demo.datamodule.partition(":")
    assert callable(getattr(importlib.import_module(module), builder)) and entry.demo.inputs is not None
    # what crashed `flash train text_classification`: a demo model config that is not keyword arguments
    datamodule = type("Labelled", (), {"labels": ["a", "b"], "num_classes": 2})()
    kwargs = model_kwargs(model_cls, datamodule, {"model": {}}, demo=entry.demo.model)
    assert set(entry.demo.model) <= set(kwargs)


def test_extensions_are_the_readers_own():
    from flash.audio.speech_recognition.io import AUDIO_EXTENSIONS
    from flash.image.io import IMAGE_EXTENSIONS

    assert TASKS["image_classification"].file_extensions() == IMAGE_EXTENSIONS
    assert TASKS["object_detection"].file_extensions() == IMAGE_EXTENSIONS
    assert TASKS["speech_recognition"].file_extensions() == AUDIO_EXTENSIONS
    assert TASKS["text_classification"].file_extensions() == ()
    assert ".ppm" in IMAGE_EXTENSIONS and ".aiff" in AUDIO_EXTENSIONS  # the two that --data used to miss


def test_demo_config_is_typed_and_read_only():
    with pytest.raises(TypeError, match="Demo.model must be a mapping.*Received: Demo.model='minilm'"):
        Demo(datamodule="pkg.demo:demo_datamodule", model="minilm")
    with pytest.raises(TypeError, match="Demo.trainer"):
        Demo(datamodule="pkg.demo:demo_datamodule", trainer=[("max_epochs", 1)])
    demo = Demo(datamodule="pkg.demo:demo_datamodule", model={"backbone": "x"})
    with pytest.raises(TypeError):
        demo.model["backbone"] = "y"


def test_each_task_recognises_its_data(tmp_path):
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    (tmp_path / "photos" / "cat" / "1.ppm").write_bytes(b"P6 1 1 255\n\x00\x00\x00")
    (tmp_path / "photos" / "dog").mkdir()
    found = TASKS["image_classification"].recognise(tmp_path / "photos")
    assert found.constructor == "from_folders" and "2 class folders (cat, dog)" in found.description

    (tmp_path / "speech.csv").write_text("file,transcript\na.aiff,hello\nb.aiff,bye\n")
    found = TASKS["speech_recognition"].recognise(tmp_path / "speech.csv", val_split=0.1)
    assert found.constructor == "from_csv" and found.kwargs["input_field"] == "file"
    assert found.kwargs["train_audio_root"] == str(tmp_path) and found.kwargs["val_split"] == 0.1

    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "ann.json").write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    assert TASKS["object_detection"].recognise(tmp_path / "coco").constructor == "from_coco"
    assert TASKS["object_detection"].recognise(tmp_path / "speech.csv") is None

    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "reviews.jsonl").write_text('{"id": 1, "review": "a fine film", "label": "pos"}\n')
    found = TASKS["text_classification"].recognise(tmp_path / "texts")
    assert found.constructor == "from_json" and found.kwargs["input_field"] == "review"  # the longest strings
    assert found.kwargs["target_fields"] == "label"


def test_unrecognised_data_says_what_the_task_expects(tmp_path):
    from flash.cli.train import _detect

    (tmp_path / "notes.txt").write_text("nothing to see")
    for entry in ENTRIES:
        with pytest.raises(DataError, match=f"Cannot tell what kind of {entry.name} data.*Expected: "):
            _detect(entry, str(tmp_path), val_split=0.2)
