"""Every task's zero-code path, end to end, as a user runs it: ``flash train <task>`` on the built-in demo data
(one short step on a tiny backbone), then ``flash predict`` from the checkpoint on new inputs the demo writes.

Parametrised over ``flash.tasks.ENTRIES``: a new task is covered as soon as it is listed. ``QUICK`` makes the known
tasks cheap (tiny backbones, fewer demo samples); a task missing there runs on its demo's own configuration.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flash.core.entry import TaskEntry
from flash.tasks import ENTRIES

from .conftest import run_flash

QUICK: dict[str, list[str]] = {
    "image_classification": ["--model.backbone", "test_resnet", "--data.batch_size", "8"],
    "object_detection": ["--model.backbone", "resnet18_fpn", "--model.image_size", "64", "--model.threshold", "0",
                         "--data.num_train", "4", "--data.num_val", "2", "--data.image_size", "64",
                         "--data.batch_size", "2"],
    "text_classification": ["--model.backbone", "{tiny_bert}", "--model.max_length", "32", "--data.batch_size", "8"],
    "speech_recognition": ["--data.batch_size", "2"],
}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    from tests.text.helpers import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def _check_prediction(prediction: Any, labels: list[str] | None, source: str) -> None:
    """Labels from the label set, boxes as ordered XYXY corners with one label and score each, class maps at the
    input image's own size with classes from the label set, transcripts as text."""
    if isinstance(prediction, list) and prediction and isinstance(prediction[0], list):  # segmentation: a class map
        from PIL import Image

        with Image.open(source) as image:
            assert (len(prediction), len(prediction[0])) == (image.height, image.width)
        assert all(len(row) == len(prediction[0]) for row in prediction)
        classes = {value for row in prediction for value in row}
        assert all(isinstance(value, int) and value >= 0 for value in classes)
        assert labels is None or max(classes) < len(labels)
    elif isinstance(prediction, dict):  # detection
        boxes, names, scores = prediction["boxes"], prediction["labels"], prediction["scores"]
        assert len(boxes) == len(names) == len(scores)
        for (x1, y1, x2, y2), name, score in zip(boxes, names, scores):
            assert x1 <= x2 and y1 <= y2 and 0.0 <= score <= 1.0
            assert labels is None or name in labels
    elif labels is not None:  # classification
        assert prediction in labels
    else:  # transcription
        assert isinstance(prediction, str) and prediction.isprintable()


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.name for entry in ENTRIES])
def test_zero_code_train_then_predict(entry: TaskEntry, tmp_path, request):
    quick = QUICK.get(entry.name, [])
    if any("{tiny_bert}" in arg for arg in quick):
        quick = [arg.format(tiny_bert=request.getfixturevalue("tiny_bert")) for arg in quick]
    trained = run_flash("train", entry.name, *quick, "--trainer.fast_dev_run", "true", "--checkpoint", "model.pt",
                        cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"built-in {entry.name} demo data" in trained.stdout and (tmp_path / "model.pt").is_file()

    inputs = entry.write_demo_inputs(tmp_path / "new")
    assert inputs, f"{entry.name}'s demo wrote no inputs"
    predicted = run_flash("predict", "--checkpoint", "model.pt", *inputs, "--output", "predictions.json",
                          cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = json.loads((tmp_path / "predictions.json").read_text())
    assert sorted(row["input"] for row in rows) == sorted(inputs)

    from flash.engine.checkpoint import load_checkpoint

    labels = load_checkpoint(tmp_path / "model.pt")["task"]["hyper_parameters"].get("labels")
    for row in rows:
        _check_prediction(row["prediction"], labels, row["input"])
