"""Lightning Flash spellings from its reference pages: torchvision backbone names, output classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flash.core.classification import (ClassesOutput, LabelsOutput, LogitsOutput, PredsOutput,
                                       ProbabilitiesOutput)
from flash.image import ImageClassifier
from tests.image.classification.conftest import TINY


def test_torchvision_name_that_timm_lacks_resolves_to_torchvision():
    torchvision = pytest.importorskip("torchvision")
    model = ImageClassifier(num_classes=2, backbone="mobilenet_v2", pretrained=False)
    assert isinstance(model.backbone, torchvision.models.MobileNetV2)
    assert type(ImageClassifier(num_classes=2, backbone="resnet18", pretrained=False).backbone).__module__.startswith("timm")


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return ImageClassifier(labels=["cat", "dog"], backbone=TINY, pretrained=False)


IMAGES = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)


@pytest.mark.parametrize("cls, name", [(LabelsOutput, "labels"), (ProbabilitiesOutput, "probabilities"),
                                       (ClassesOutput, "classes"), (LogitsOutput, "logits"), (PredsOutput, "preds")])
def test_output_objects_match_their_names(classifier, cls, name):
    assert classifier.predict(list(IMAGES), output=cls()) == classifier.predict(list(IMAGES), output=name)
    assert name in classifier.available_outputs()


def test_raw_output_and_labels_given_to_the_output(classifier):
    raw = classifier.predict(list(IMAGES), output="raw")
    assert all(isinstance(r, torch.Tensor) and r.shape == (2,) for r in raw)
    assert torch.allclose(torch.stack(raw), torch.tensor(classifier.predict(list(IMAGES), output="logits")))
    named = classifier.predict(list(IMAGES), output=LabelsOutput(["kitten", "puppy"]))
    assert set(named) <= {"kitten", "puppy"}


def test_output_object_through_the_trainer(classifier, tmp_path):
    import flash
    from flash.image import ImageClassificationData

    datamodule = ImageClassificationData.from_numpy(predict_data=IMAGES, batch_size=2)
    trainer = flash.Trainer(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    batches = trainer.predict(classifier, datamodule, output=ProbabilitiesOutput())
    rows = [row for batch in batches for row in batch]
    assert len(rows) == 3 and all(abs(sum(row) - 1) < 1e-5 for row in rows)
