"""Optimizer steps: gradient accumulation, clipping, precision, schedulers and non-finite losses,
each checked against a hand-written PyTorch loop."""

from __future__ import annotations

import math

import pytest
import torch

import flash
from flash.engine.precision import MixedPrecision
from flash.errors import ConfigurationError, NonFiniteLossError
from tests.engine.helpers import TinyRegressor, loader, quiet, same_weights


def _hand_loop(batches, *, windows, clip=None):
    """Plain PyTorch: one SGD step per window; each batch's loss is divided by its window's size."""
    model = TinyRegressor()
    optimizer = model.configure_optimizers()
    batches = list(batches)
    for window in windows:
        for i in window:
            (model.loss(batches[i]) / len(window)).backward()
        if clip == "norm":
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), 0.05)
        elif clip == "value":
            torch.nn.utils.clip_grad_value_(list(model.parameters()), 0.01)
        optimizer.step()
        optimizer.zero_grad()
    return model


def test_accumulation_with_a_partial_last_window_matches_hand_loop(tmp_path):
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, accumulate_grad_batches=3))
    model = TinyRegressor()
    trainer.fit(model, loader(28))  # 7 batches: windows of 3, 3 and a last one of 1
    assert trainer.global_step == 3  # optimizer steps, not batches
    expected = _hand_loop(loader(28), windows=[[0, 1, 2], [3, 4, 5], [6]])
    assert same_weights(model.state_dict(), expected.state_dict())


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_matches_hand_loop(tmp_path, algorithm):
    value = 0.05 if algorithm == "norm" else 0.01
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, gradient_clip_val=value, gradient_clip_algorithm=algorithm))
    model = TinyRegressor()
    trainer.fit(model, loader(16))
    expected = _hand_loop(loader(16), windows=[[0], [1], [2], [3]], clip=algorithm)
    unclipped = _hand_loop(loader(16), windows=[[0], [1], [2], [3]])
    assert same_weights(model.state_dict(), expected.state_dict())
    assert not same_weights(model.state_dict(), unclipped.state_dict())  # clipping really bit


class DtypeProbe(TinyRegressor):
    def training_step(self, batch, batch_idx):
        out = self(batch[0])
        self.seen_dtypes = (out.dtype, next(self.parameters()).dtype)
        return torch.nn.functional.mse_loss(out.float(), batch[1].float())


def test_bf16_mixed_autocasts_and_trains(tmp_path):
    model = DtypeProbe()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision="bf16-mixed"))
    trainer.fit(model, loader())
    assert model.seen_dtypes == (torch.bfloat16, torch.float32)  # autocast, float32 master weights
    assert all(torch.isfinite(p).all() and not torch.equal(p, b) for p, b in zip(model.parameters(), before))
    assert math.isfinite(trainer.callback_metrics.get("train_loss", 0.0))


@pytest.mark.parametrize("precision, dtype", [("bf16-true", torch.bfloat16), ("64-true", torch.float64)])
def test_true_precision_converts_parameters_and_inputs(tmp_path, precision, dtype):
    model = DtypeProbe()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision=precision))
    trainer.fit(model, loader(), loader(8))
    assert model.seen_dtypes == (dtype, dtype)
    assert all(not torch.equal(p.float(), b) for p, b in zip(model.parameters(), before))
    predictions = trainer.predict(model, loader(8))
    assert predictions[0].dtype == dtype


def test_fp16_mixed_scaler_state_is_checkpointed_and_restored(tmp_path):
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision="16-mixed"))
    trainer.fit(TinyRegressor(), loader())
    assert isinstance(trainer.precision, MixedPrecision) and trainer.precision.scaler is not None
    trainer.save_checkpoint(tmp_path / "amp.ckpt")
    scaler_state = torch.load(tmp_path / "amp.ckpt", weights_only=True)["precision"]["scaler"]
    assert scaler_state["scale"] == trainer.precision.scaler.get_scale()
    resumed = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision="16-mixed"))
    resumed.fit(TinyRegressor(), loader(), ckpt_path=tmp_path / "amp.ckpt")
    assert resumed.precision.scaler.get_scale() == scaler_state["scale"]


def test_unknown_precision_lists_the_valid_values():
    with pytest.raises(ConfigurationError) as info:
        flash.Trainer(precision="fp8")
    message = str(info.value)
    assert "Received: precision='fp8'" in message
    assert all(v in message for v in ("'32-true'", "'16-mixed'", "'bf16-mixed'", "'bf16-true'", "'64-true'"))


class Scheduled(TinyRegressor):
    def __init__(self, scheduler, interval, **kwargs):
        super().__init__(**kwargs)
        self.scheduler_kind, self.interval = scheduler, interval

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.scheduler_kind == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler, "monitor": "val_loss"}}
        self.scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler, "interval": self.interval}}


@pytest.mark.parametrize("interval, accumulate, expected_steps", [("step", 2, 6), ("epoch", 1, 3)])
def test_scheduler_interval(tmp_path, interval, accumulate, expected_steps):
    model = Scheduled("step", interval)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=3, accumulate_grad_batches=accumulate))
    trainer.fit(model, loader(16))  # 4 batches an epoch
    assert model.scheduler.last_epoch == expected_steps
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**expected_steps)


def test_reduce_lr_on_plateau_follows_the_monitored_metric(tmp_path):
    seen = []

    class Record(flash.Callback):
        def on_validation_end(self, trainer, module):
            seen.append(trainer.callback_metrics["val_loss"])

    model = Scheduled("plateau", "epoch", lr=0.1)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=4, callbacks=[Record()]))
    trainer.fit(model, loader(16), loader(8, seed=1))
    assert len(seen) == 4 and model.scheduler.best == pytest.approx(min(seen))


class NanAt(TinyRegressor):
    """The loss is NaN at the chosen batches of the first epoch."""

    def __init__(self, bad_batches, **kwargs):
        super().__init__(**kwargs)
        self.bad_batches = set(bad_batches)

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        return loss * torch.nan if batch_idx in self.bad_batches and self.current_epoch == 0 else loss


def test_nonfinite_loss_raises_naming_the_step(tmp_path):
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    with pytest.raises(NonFiniteLossError, match="global step 2"):
        trainer.fit(NanAt({2}), loader())


@pytest.mark.parametrize("accumulate, windows", [(1, [[0], [2], [3]]), (2, [[2, 3]])])
def test_nonfinite_loss_skip_drops_that_step_and_continues(tmp_path, accumulate, windows):
    model = NanAt({1})
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, on_nonfinite_loss="skip",
                                    accumulate_grad_batches=accumulate))
    with pytest.warns(UserWarning, match="Non-finite loss"):
        trainer.fit(model, loader())
    assert trainer.global_step == len(windows)  # the window with the NaN loss made no optimizer step
    assert same_weights(model.state_dict(), _hand_loop(loader(), windows=windows).state_dict())


def test_nonfinite_skip_with_fp16_grad_scaler(tmp_path):
    model = NanAt({0, 1})
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, precision="16-mixed", on_nonfinite_loss="skip"))
    with pytest.warns(UserWarning, match="Non-finite loss"):
        trainer.fit(model, loader())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert 0 < trainer.global_step <= 6  # 8 batches, 2 skipped (fp16 may also skip an overflowing one)


class NanGradients(Scheduled):
    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        if batch_idx in (1, 2):  # a finite loss whose gradients are NaN: d sqrt(x) / dx at 0
            loss = loss + (self.net[0].weight.sum() * 0).sqrt()
        return loss


def test_scheduler_does_not_step_when_the_grad_scaler_skips(tmp_path):
    model = NanGradients("step", "step")
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, precision="16-mixed"))
    trainer.fit(model, loader(32))  # 8 batches, 2 of them with NaN gradients
    assert trainer.global_step <= 6  # the scaler skipped at least those two steps
    assert model.scheduler.last_epoch == trainer.global_step
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**trainer.global_step)
    assert trainer.precision.scaler.get_scale() < 65536.0
