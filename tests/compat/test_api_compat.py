"""Lightning Flash spellings from its reference pages: torchvision backbone names, output classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flash.core.classification import ClassesOutput, LabelsOutput, LogitsOutput, PredsOutput, ProbabilitiesOutput
from flash.image import ImageClassifier
from tests.image.classification.conftest import TINY


def test_torchvision_name_that_timm_lacks_resolves_to_torchvision():
    torchvision = pytest.importorskip("torchvision")
    model = ImageClassifier(num_classes=2, backbone="mobilenet_v2", pretrained=False)
    assert isinstance(model.backbone, torchvision.models.MobileNetV2)
    timm_model = ImageClassifier(num_classes=2, backbone="resnet18", pretrained=False)
    assert type(timm_model.backbone).__module__.startswith("timm"), "names timm has stay timm's"


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


def test_offline_pretrained_weights_are_named_with_the_cache_and_the_fix(monkeypatch, tmp_path):
    import urllib.error

    from flash.errors import ConfigurationError
    from flash.image import ObjectDetector

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigurationError, match=r"timm model 'resnet18'.*hf.*pretrained=False"):
        ImageClassifier(num_classes=2, backbone="resnet18")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigurationError, match=r"'fcos' detector on 'resnet18_fpn'.*checkpoints.*pretrained=False"):
        ObjectDetector(num_classes=3, head="fcos", backbone="resnet18_fpn")


def test_constant_schedule_and_unknown_target_formatter():
    from flash.core.optimizers import build_scheduler
    from flash.errors import ConfigurationError
    from flash.image import ImageClassificationData

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = build_scheduler("constant_schedule", optimizer, num_training_steps=10)
    assert scheduler is not None
    with pytest.raises(ConfigurationError, match=r"TargetFormatter.*Received: target_formatter=<object"):
        ImageClassificationData.from_numpy(train_data=IMAGES, train_targets=[0, 1, 0], target_formatter=object())


def test_show_train_batch(tmp_path):
    pytest.importorskip("matplotlib")
    from flash.image import ImageClassificationData

    datamodule = ImageClassificationData.from_numpy(train_data=IMAGES, train_targets=[0, 1, 0], val_data=IMAGES,
                                                    val_targets=[1, 0, 1], batch_size=3)
    datamodule.show_train_batch(path=str(tmp_path / "train.png"))
    datamodule.show_val_batch(path=str(tmp_path / "val.png"))
    assert (tmp_path / "train.png").stat().st_size > 0 and (tmp_path / "val.png").stat().st_size > 0


def test_lightning_format_checkpoint_is_refused_with_a_trusted_one_liner(tmp_path):
    """A pickle naming Lightning (built here without Lightning: a class whose module is pytorch_lightning)."""
    import subprocess
    import sys

    from flash.errors import CheckpointError

    script = (
        "import sys, types, torch\n"
        "module = types.ModuleType('pytorch_lightning'); sys.modules['pytorch_lightning'] = module\n"
        "class AttributeDict(dict): pass\n"
        "AttributeDict.__module__ = 'pytorch_lightning'; module.AttributeDict = AttributeDict\n"
        "torch.save({'state_dict': {'w': torch.zeros(1)}, 'pytorch-lightning_version': '1.8.6',\n"
        "            'hyper_parameters': AttributeDict(num_classes=2)}, sys.argv[1])\n"
    )
    path = tmp_path / "image_classification_model.pt"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=300)
    with pytest.raises(CheckpointError, match=r"Lightning-format.*weights_only=False.*state_dict.*weights_only=True"):
        ImageClassifier.load_from_checkpoint(str(path))


def test_available_heads_and_pretrained_weights():
    pytest.importorskip("timm")
    assert ImageClassifier.available_heads() == ["linear"]
    assert "a1_in1k" in ImageClassifier.available_pretrained_weights("resnet18")
    assert ImageClassifier.available_pretrained_weights("mobilenet_v2") == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert ImageClassifier.available_pretrained_weights(TINY) == []


def test_from_csv_ids_next_to_the_csv_and_resolver_gets_its_folder(tmp_path, monkeypatch):
    from PIL import Image

    from flash.image import ImageClassificationData

    folder = tmp_path / "posters" / "train"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(IMAGES[i]).save(folder / f"tt{i}.jpg")
    (folder / "metadata.csv").write_text("Id,label\ntt0,cat\ntt1,dog\n")
    monkeypatch.chdir(tmp_path)
    seen = []
    resolver = lambda root, file_id: seen.append(root) or f"{root}/{file_id}.jpg"  # noqa: E731 - Flash's example
    by_resolver = ImageClassificationData.from_csv("Id", "label", train_file="posters/train/metadata.csv",
                                                   train_resolver=resolver, batch_size=2)
    assert seen[0] == str(folder) and len(by_resolver.train_dataset) == 2
    (folder / "plain.csv").write_text("Id,label\ntt0.jpg,cat\ntt1,dog\n")
    plain = ImageClassificationData.from_csv("Id", "label", train_file="posters/train/plain.csv", batch_size=2)
    assert len(plain.train_dataset) == 2 and plain.labels == ["cat", "dog"]
