"""Bad arguments and bad models fail early with a ConfigurationError that names the value."""

from __future__ import annotations

import sys

import pytest
import torch

import flash
from flash.engine.precision import Precision
from flash.errors import ConfigurationError, NonFiniteLossError
from tests.engine.helpers import TinyRegressor, loader, quiet


@pytest.mark.parametrize("kwargs, received", [
    ({"accelerator": "tpu"}, "accelerator='tpu'"),
    ({"strategy": "deepspeed"}, "strategy='deepspeed'"),
    ({"precision": "fp8"}, "precision='fp8'"),
    ({"precision": 8}, "precision=8"),
    ({"gradient_clip_algorithm": "l2"}, "gradient_clip_algorithm='l2'"),
    ({"gradient_clip_val": -1.0}, "gradient_clip_val=-1.0"),
    ({"val_check_interval": 1.5}, "val_check_interval=1.5"),
    ({"val_check_interval": 0}, "val_check_interval=0"),
    ({"val_check_interval": "half"}, "val_check_interval='half'"),
    ({"max_time": "1 hour"}, "max_time='1 hour'"),
    ({"max_time": -5}, "max_time=-5"),
    ({"max_epochs": "3"}, "max_epochs='3'"),
    ({"max_steps": -2}, "max_steps=-2"),
    ({"check_val_every_n_epoch": 0}, "check_val_every_n_epoch=0"),
    ({"log_every_n_steps": 0}, "log_every_n_steps=0"),
    ({"num_sanity_val_steps": -3}, "num_sanity_val_steps=-3"),
    ({"accumulate_grad_batches": 0}, "accumulate_grad_batches=0"),
    ({"limit_train_batches": 1.5}, "limit_train_batches=1.5"),
    ({"limit_val_batches": -1}, "limit_val_batches=-1"),
    ({"fast_dev_run": -1}, "fast_dev_run=-1"),
    ({"on_nonfinite_loss": "ignore"}, "on_nonfinite_loss='ignore'"),
    ({"devices": 0}, "devices=0"),
    ({"devices": "two"}, "devices='two'"),
    ({"strategy": "single", "devices": 2}, "strategy='single'"),
    ({"logger": "neptune"}, "logger='neptune'"),
])
def test_bad_trainer_arguments_name_the_value(kwargs, received):
    with pytest.raises(ConfigurationError) as info:
        flash.Trainer(accelerator=kwargs.pop("accelerator", "cpu"), **kwargs)
    assert f"Received: {received}" in str(info.value)


def test_close_matches_are_suggested():
    with pytest.raises(ConfigurationError, match="Did you mean 'bf16-mixed'"):
        flash.Trainer(precision="bf16-mixd")
    with pytest.raises(ConfigurationError, match="Did you mean 'ddp'"):
        flash.Trainer(strategy="dpp")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu():
    with pytest.raises(ConfigurationError, match="no CUDA device"):
        flash.Trainer(accelerator="cuda")


def test_fit_without_data(tmp_path):
    with pytest.raises(ConfigurationError, match="fit\\(\\) needs training data"):
        flash.Trainer(**quiet(tmp_path)).fit(TinyRegressor())
    with pytest.raises(ConfigurationError, match="needs data"):
        flash.Trainer(**quiet(tmp_path)).validate(TinyRegressor())
    with pytest.raises(ConfigurationError, match="needs a model"):
        flash.Trainer(**quiet(tmp_path)).predict(None, loader())


def test_training_step_returning_a_string(tmp_path):
    class Chatty(TinyRegressor):
        def training_step(self, batch, batch_idx):
            return "the loss"

    with pytest.raises(ConfigurationError, match="training_step must return the loss.*Received: str"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(Chatty(), loader())


def test_training_step_returning_a_dict_or_none(tmp_path):
    class Mixed(TinyRegressor):
        def training_step(self, batch, batch_idx):
            return None if batch_idx == 1 else {"loss": self.loss(batch), "extra": 1}

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    trainer.fit(Mixed(), loader())
    assert trainer.global_step == 4


def test_model_without_validation_step(tmp_path):
    class NoVal(TinyRegressor):
        validation_step = None

    with pytest.raises(ConfigurationError, match="NoVal has no validation_step"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(NoVal(), loader(), loader())


def test_several_optimizers_are_refused(tmp_path):
    class Two(TinyRegressor):
        def configure_optimizers(self):
            return [
                torch.optim.SGD(self.net[0].parameters(), lr=0.1),
                torch.optim.SGD(self.net[3].parameters(), lr=0.1),
            ]

    with pytest.raises(ConfigurationError, match="returned 2"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(Two(), loader())


@pytest.mark.parametrize(
    "result, match", [(None, "returned None"), ({"lr": 1}, "without 'optimizer'"), ("adam", "Received: str")]
)
def test_bad_configure_optimizers(tmp_path, result, match):
    class Bad(TinyRegressor):
        def configure_optimizers(self):
            return result

    with pytest.raises(ConfigurationError, match=match):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(Bad(), loader())


def test_ddp_from_a_non_script_is_explained(tmp_path, monkeypatch):
    """Launching needs a script to re-run (here: as if started with ``python -c``)."""
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr("flash.engine.strategy.subprocess.Popen", None)  # never start a process from here
    trainer = flash.Trainer(**quiet(tmp_path, strategy="ddp", devices=2, max_epochs=1))
    with pytest.raises(ConfigurationError, match="torchrun"):
        trainer.fit(TinyRegressor(), loader())


@pytest.mark.parametrize("logged, returned, raises", [(1.0, float("nan"), True), (float("nan"), 1.0, False)])
def test_the_finite_check_reads_the_returned_loss_not_a_logged_value(tmp_path, logged, returned, raises):
    """The loop reuses the value self.log read only when the logged tensor is the returned loss."""

    class Mixed(TinyRegressor):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            self.log("other", torch.tensor(logged))
            return loss * 0 + returned

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    if raises:
        with pytest.raises(NonFiniteLossError, match="global step 0"):
            trainer.fit(Mixed(), loader(8))
    else:
        trainer.fit(Mixed(), loader(8))
        assert trainer.global_step == 2 and trainer.progress_bar_metrics["loss"] == 1.0


def test_a_custom_precision_with_autocast_is_entered(tmp_path):
    entered = []

    class Recording(Precision):
        def autocast(self, device_type):
            entered.append(device_type)
            return super().autocast(device_type)

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision=Recording()))
    trainer.fit(TinyRegressor(), loader(8))
    assert entered == ["cpu", "cpu"]
