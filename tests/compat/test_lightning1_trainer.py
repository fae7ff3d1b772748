"""Lightning 1.x ``Trainer`` arguments and a DataModule passed positionally, as Lightning Flash's docs write them."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import flash
from flash.engine.callbacks import Callback
from flash.errors import ConfigurationError
from tests.engine.helpers import TinyRegressor, dataset


def test_gpus_zero_means_cpu_with_a_warning_naming_lightning2(tmp_path):
    with pytest.warns(FutureWarning, match=r"gpus=0.*accelerator=.*devices="):
        trainer = flash.Trainer(max_epochs=1, gpus=0, default_root_dir=tmp_path)
    assert trainer.accelerator == "cpu" and trainer.device == torch.device("cpu")
    assert trainer.settings.max_epochs == 1, "the other arguments are kept"


@pytest.mark.parametrize("legacy, attribute, expected", [
    ({"checkpoint_callback": False}, "enable_checkpointing", False),
    ({"progress_bar_refresh_rate": 0}, "enable_progress_bar", False),
])
def test_renamed_flags_are_translated(tmp_path, legacy, attribute, expected):
    with pytest.warns(FutureWarning, match=attribute):
        trainer = flash.Trainer(default_root_dir=tmp_path, **legacy)
    assert getattr(trainer.settings, attribute) == expected


def test_gpus_n_asks_for_n_cuda_devices():
    with pytest.warns(FutureWarning), pytest.raises(Exception) as info:
        flash.Trainer(gpus=torch.cuda.device_count() + 1)
    assert "devices" in str(info.value) or "CUDA" in str(info.value)


@pytest.mark.parametrize("name, fix", [("resume_from_checkpoint", "ckpt_path="), ("tpu_cores", "accelerator=")])
def test_unsupported_lightning1_arguments_say_what_to_write(name, fix):
    with pytest.raises(ConfigurationError, match=rf"{name}.*{fix}.*Received: {name}="):
        flash.Trainer(**{name: "x"})


def test_unknown_argument_gets_a_close_match():
    with pytest.raises(ConfigurationError, match=r"Did you mean 'max_epochs'\?"):
        flash.Trainer(max_epoch=3)


class TinyDataModule:
    """The DataModule surface the engine uses: one loader per stage."""

    def __init__(self):
        self.loader = DataLoader(dataset(8), batch_size=4)

    def train_dataloader(self):
        return self.loader

    val_dataloader = test_dataloader = predict_dataloader = train_dataloader


def test_datamodule_passed_positionally_everywhere(tmp_path):
    model, dm = TinyRegressor(), TinyDataModule()
    trainer = flash.Trainer(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                            enable_checkpointing=False)
    trainer.fit(model, dm)
    assert trainer.datamodule is dm and trainer.global_step == 2
    trainer.finetune(model, dm, strategy=Callback())
    assert trainer.global_step == 2, "a fresh fit of one epoch"
    assert "val_loss" in trainer.validate(model, dm)[0]
    assert "test_loss" in trainer.test(model, dm)[0]
    assert len(trainer.predict(model, dm)) == 2
