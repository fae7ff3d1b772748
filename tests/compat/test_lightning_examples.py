"""Lightning Flash 0.8.2's six examples for our tasks, run as written.

``examples/`` holds their text verbatim. The only change at run time: ``https://`` becomes a
``file://`` URL of a folder holding tiny archives in the real datasets' layout (``datasets.py``).
Big backbones the examples name are registered to tiny random models in the same registries the
real names resolve through; the example text is not edited.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from . import datasets

EXAMPLES = Path(__file__).parent / "examples"


def tiny_cnn(*, pretrained=False, **kwargs):
    from tests.image.classification.conftest import tiny_test_cnn

    return tiny_test_cnn(pretrained=False)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "flash_cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_example(name: str, tmp_path: Path, monkeypatch, build) -> dict:
    """Build the example's archive, swap only the URL scheme, and run the text in ``tmp_path/work``."""
    remote, staging, work = tmp_path / "remote", tmp_path / "staging", tmp_path / "work"
    build(remote, staging)
    work.mkdir()
    monkeypatch.chdir(work)
    text = (EXAMPLES / name).read_text().replace("https://", f"file://{remote}/")
    namespace = {"__name__": "__main__"}
    exec(compile(text, str(EXAMPLES / name), "exec"), namespace)  # noqa: S102 - our own fixture text
    return namespace


def test_image_classification(tmp_path, monkeypatch):
    from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES

    with IMAGE_CLASSIFIER_BACKBONES.temporarily("resnet18", tiny_cnn):
        ns = run_example("image_classification.py", tmp_path, monkeypatch, datasets.hymenoptera)
    assert len(ns["predictions"]) == 1 and len(ns["predictions"][0]) == 3
    assert set(ns["predictions"][0]) <= {"ants", "bees"}
    assert Path("image_classification_model.pt").is_file()


def test_reference_page_custom_transforms(tmp_path, monkeypatch):
    """The image classification reference page's "Custom Transformations" snippet (Lightning-style hooks)."""
    from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES

    with IMAGE_CLASSIFIER_BACKBONES.temporarily("resnet18", tiny_cnn):
        ns = run_example("reference_image_classification_transforms.py", tmp_path, monkeypatch, datasets.hymenoptera)
    assert ns["datamodule"].transform.image_size == (128, 128)
    batch = next(iter(ns["datamodule"].train_dataloader()))
    assert batch["input"].shape == (1, 3, 128, 128)
    assert ns["trainer"].global_step == 8, "one epoch of 8 images, batch_size=1"


def test_image_classification_multi_label(tmp_path, monkeypatch):
    from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES

    with IMAGE_CLASSIFIER_BACKBONES.temporarily("resnet18", tiny_cnn):
        ns = run_example("image_classification_multi_label.py", tmp_path, monkeypatch, datasets.movie_posters)
    assert ns["model"].multi_label is True
    labels = [row for batch in ns["predictions"] for row in batch]
    assert len(labels) == 3 and all(set(row) <= set(datasets.GENRES) for row in labels)
    assert Path("image_classification_multi_label_model.pt").is_file()


def tiny_efficientdet():
    """EfficientDet's layout on a small timm trunk with a narrow pyramid (random weights)."""
    from effdet import get_efficientdet_config

    config = get_efficientdet_config("efficientdet_d0")
    config.update(backbone_name="mobilenetv3_small_050", fpn_channels=16, fpn_cell_repeats=1, box_class_repeats=1,
                  url="")
    return config


def test_object_detection(tmp_path, monkeypatch):
    pytest.importorskip("effdet")
    from flash.image.detection.efficientdet import EFFICIENTDET_CONFIGS

    with EFFICIENTDET_CONFIGS.temporarily("d0", tiny_efficientdet):
        ns = run_example("object_detection.py", tmp_path, monkeypatch, datasets.coco128)
    found = [row for batch in ns["predictions"] for row in batch]  # no output=: the model's raw detections
    assert len(found) == 3 and all(set(row) == {"boxes", "labels", "scores"} for row in found)
    assert all(set(row["labels"].tolist()) <= {1, 2} for row in found), "class 0 is the background"
    assert ns["model"].labels == ["background", "bicycle", "person"] or len(ns["model"].labels) == 3
    assert Path("object_detection_model.pt").is_file()


@pytest.mark.parametrize("example, backbone, build, labels", [
    ("text_classification.py", "prajjwal1/bert-medium", datasets.imdb, None),
    ("text_classification_multi_label.py", "unitary/toxic-bert", datasets.jigsaw, datasets.TOXIC),
])
def test_text_classification(tmp_path, monkeypatch, example, backbone, build, labels):
    from flash.text.classification.backbones import TEXT_CLASSIFIER_BACKBONES
    from tests.text.helpers import build_tiny_bert

    folder = build_tiny_bert(tmp_path / "tiny_bert")
    with TEXT_CLASSIFIER_BACKBONES.temporarily(backbone, lambda: folder):
        ns = run_example(example, tmp_path, monkeypatch, build)
    predicted = [row for batch in ns["predictions"] for row in batch]
    assert len(predicted) == 3
    if labels is None:  # single-label: one class name per text
        assert set(predicted) <= {"positive", "negative"}
    else:  # multi-label: a list of class names per text
        assert all(set(row) <= set(labels) for row in predicted)
    assert Path(example.replace(".py", "_model.pt")).is_file()


def test_speech_recognition(tmp_path, monkeypatch):
    from flash.audio.speech_recognition.backbones import SPEECH_BACKBONES, tiny_wav2vec2_ctc

    with SPEECH_BACKBONES.temporarily("facebook/wav2vec2-base-960h", tiny_wav2vec2_ctc):
        ns = run_example("speech_recognition.py", tmp_path, monkeypatch, datasets.timit)
    texts = [row for batch in ns["predictions"] for row in batch]
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert Path("speech_recognition_model.pt").is_file()
