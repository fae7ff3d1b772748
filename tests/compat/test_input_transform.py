"""Lightning Flash's ``InputTransform`` hooks, from its import paths, drive flash's data pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import flash
from flash.core.data.io.input import DataKeys
from flash.core.data.io.input_transform import InputTransform
from flash.core.data.transforms import ApplyToKeys
from flash.errors import ConfigurationError
from flash.image import ImageClassificationData, ImageClassifier
from tests.image.classification.conftest import TINY, write_folder

CALLS: dict[str, int] = {}


def count(name, fn=lambda x: x):
    def run(value):
        CALLS[name] = CALLS.get(name, 0) + 1
        return fn(value)

    return run


@dataclass
class CustomTransform(InputTransform):
    image_size: int = 8

    def per_sample_transform(self):
        import torchvision.transforms as T

        to_tensor = T.Compose([T.ToTensor(), T.Resize((self.image_size, self.image_size), antialias=True)])
        return count("per_sample", ApplyToKeys(DataKeys.INPUT, to_tensor))

    def train_target_per_sample_transform(self):
        return count("train_target")

    def per_batch_transform(self):
        return count("per_batch")

    def train_per_batch_transform_on_device(self):
        def mixup(batch):
            assert batch["input"].shape[-2:] == (self.image_size, self.image_size)
            return batch

        return count("train_on_device", mixup)


def test_lightning_style_hooks_run_per_stage(tmp_path):
    pytest.importorskip("torchvision")
    CALLS.clear()
    write_folder(tmp_path / "train", 2)
    write_folder(tmp_path / "val", 1)
    datamodule = ImageClassificationData.from_folders(train_folder=str(tmp_path / "train"),
                                                      val_folder=str(tmp_path / "val"), batch_size=2,
                                                      transform=CustomTransform, transform_kwargs={"image_size": 12})
    assert datamodule.transform.image_size == 12 and datamodule.transform.kwargs == {"image_size": 12}
    model = ImageClassifier(labels=datamodule.labels, backbone=TINY, pretrained=False)
    trainer = flash.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                            enable_checkpointing=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule)
    assert CALLS["per_sample"] == 4 + 2, "every train and val sample"
    assert CALLS["train_target"] == 4, "train samples only"
    assert CALLS["per_batch"] == 2 + 1 and CALLS["train_on_device"] == 2, "train batches only"


def test_unknown_hook_names_raise():
    with pytest.raises(ConfigurationError, match=r"per_sample_transfrom.*Known hooks.*per_sample_transform"):
        class Typo(InputTransform):
            def per_sample_transfrom(self):
                return None

    with pytest.raises(ConfigurationError, match="train_per_sample_transform_on_device"):
        class Unsupported(InputTransform):
            def train_per_sample_transform_on_device(self):
                return None


def test_apply_to_keys_and_flash_import_path():
    assert flash.InputTransform is InputTransform
    sample = {"input": torch.ones(2), "target": 1}
    assert ApplyToKeys("input", lambda t: t * 3)(sample)["input"].tolist() == [3.0, 3.0]
    swapped = ApplyToKeys(["input", "target"], lambda pair: (pair[1], pair[0]))(sample)
    assert swapped["input"] == 1
