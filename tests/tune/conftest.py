"""Tiny models and data of every task for the tuning tests (no downloads, data written to tmp dirs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import flash
from tests.offline import offline_single_thread  # noqa: F401 - autouse: no hub access, one torch thread


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Trials with ``logger=False`` write their run reports under the working folder: keep that in tmp_path."""
    monkeypatch.chdir(tmp_path)


def digits(n: int = 48, *, batch_size: int = 8):
    """``n`` real 8x8 digits (the image demo's) at 16x16, a quarter held out for validation."""
    from flash.image import ImageClassificationData
    from flash.image.classification.demo import load_digits

    images, targets = load_digits()
    return ImageClassificationData.from_numpy(train_data=images[:n], train_targets=targets[:n], val_split=0.25,
                                              batch_size=batch_size, transform_kwargs={"image_size": (16, 16)},
                                              labels=[str(i) for i in range(10)])


def image_classification(tmp_path):
    from flash.image import ImageClassifier

    datamodule = digits()
    return ImageClassifier(backbone="test_resnet", pretrained=False, labels=datamodule.labels), datamodule


def object_detection(tmp_path):
    from flash.image import ObjectDetectionData, ObjectDetector
    from flash.image.detection.demo import write_shapes

    ann = write_shapes(tmp_path / "shapes", num_images=4, seed=0, size=(64, 64))
    datamodule = ObjectDetectionData.from_coco(train_folder=str(ann.parent), train_ann_file=str(ann), batch_size=2,
                                               transform_kwargs={"image_size": 64})
    model = ObjectDetector(head="fcos", backbone="resnet18_fpn", pretrained=False, image_size=64,
                           num_classes=datamodule.num_classes)
    return model, datamodule


def text_classification(tmp_path):
    from flash.text import TextClassificationData, TextClassifier
    from tests.text.helpers import build_tiny_bert, make_reviews

    texts, labels = make_reviews(24)
    datamodule = TextClassificationData.from_lists(train_data=texts, train_targets=labels, batch_size=8)
    model = TextClassifier(backbone=build_tiny_bert(tmp_path / "bert"), pretrained=False, num_classes=2)
    return model, datamodule


def speech_recognition(tmp_path):
    from flash.audio import SpeechRecognizer
    from flash.audio.speech_recognition.demo import demo_datamodule

    return SpeechRecognizer("tiny-wav2vec2-ctc"), demo_datamodule(batch_size=4)


TASKS = {f.__name__: f for f in (image_classification, object_detection, text_classification, speech_recognition)}


def quiet_trainer(root, **kwargs) -> flash.Trainer:
    return flash.Trainer(default_root_dir=str(root), logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, **kwargs)


def clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_bitwise_equal(before: dict[str, torch.Tensor], model: torch.nn.Module) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed, f"changed by the finder: {changed[:5]}"


def seeded(seed: int = 0) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
