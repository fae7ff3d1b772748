"""Loop controls: when training stops, how many batches run, when validation runs, what is logged."""

from __future__ import annotations

import csv
import datetime as dt
import time

import pytest
import torch
from torch.utils.data import DataLoader, Subset

import flash
from flash.engine.settings import parse_max_time
from flash.errors import ConfigurationError
from tests.engine.helpers import TinyRegressor, dataset, loader, quiet


class Counter(flash.Callback):
    """Counts training batches and real (non-sanity) validation runs / batches, per epoch."""

    def __init__(self):
        self.train_batches, self.val_runs, self.val_batches, self.sanity_batches = 0, [], 0, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.train_batches += 1

    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.sanity_checking:
            self.sanity_batches += 1
        else:
            self.val_batches += 1

    def on_validation_end(self, trainer, module):
        if not trainer.sanity_checking:
            self.val_runs.append(trainer.current_epoch)


def _fit(tmp_path, *, train=16, val=None, model=None, callbacks=(), **kwargs):
    counter = Counter()
    trainer = flash.Trainer(**quiet(tmp_path, callbacks=[counter, *callbacks], **kwargs))
    trainer.fit(model or TinyRegressor(), loader(train), loader(val, seed=1) if val else None)
    return trainer, counter


def test_max_steps_stops_mid_epoch(tmp_path):
    trainer, counter = _fit(tmp_path, max_steps=6)
    assert trainer.global_step == 6 and counter.train_batches == 6 and trainer.current_epoch == 1


def test_max_epochs(tmp_path):
    trainer, counter = _fit(tmp_path, max_epochs=2)
    assert trainer.current_epoch == 2 and trainer.global_step == 8 and counter.train_batches == 8


def test_max_time_stops_training(tmp_path):
    class Slow(flash.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            time.sleep(0.05)

    trainer, counter = _fit(tmp_path, max_epochs=1000, max_time={"seconds": 0.2}, callbacks=[Slow()])
    assert 1 <= trainer.global_step <= 8 and counter.train_batches == trainer.global_step


@pytest.mark.parametrize("value, seconds", [("00:01:02:03", 3723), (dt.timedelta(minutes=2), 120),
                                            ({"hours": 1}, 3600), (1.5, 1.5)])
def test_max_time_formats(value, seconds):
    assert parse_max_time(value) == seconds


@pytest.mark.parametrize("limit, batches", [(2, 2), (0.5, 2), (1.0, 4), (10, 4)])
def test_limit_train_batches(tmp_path, limit, batches):
    trainer, counter = _fit(tmp_path, max_epochs=2, limit_train_batches=limit)
    assert counter.train_batches == 2 * batches and trainer.global_step == 2 * batches


@pytest.mark.parametrize("limit, batches", [(1, 1), (0.5, 2), (0.0, 0)])
def test_limit_val_batches(tmp_path, limit, batches):
    _, counter = _fit(tmp_path, val=16, max_epochs=1, limit_val_batches=limit)
    assert counter.val_batches == batches


def test_limit_test_and_predict_batches(tmp_path):
    trainer = flash.Trainer(**quiet(tmp_path, limit_test_batches=0.5, limit_predict_batches=3))
    model = TinyRegressor()
    assert len(trainer.predict(model, loader(20))) == 3
    metrics = trainer.test(model, loader(16))
    assert list(metrics[0]) == ["test_loss"]
    first_half = DataLoader(Subset(dataset(16), range(8)), batch_size=4)  # the first 2 of 4 batches
    expected = flash.Trainer(**quiet(tmp_path)).test(model, first_half)
    assert metrics[0]["test_loss"] == pytest.approx(expected[0]["test_loss"])


@pytest.mark.parametrize("fast", [True, 2])
def test_fast_dev_run_writes_nothing(tmp_path, fast):
    counter = Counter()
    trainer = flash.Trainer(accelerator="cpu", fast_dev_run=fast, default_root_dir=tmp_path, enable_progress_bar=False,
                            callbacks=[counter, flash.ModelCheckpoint(tmp_path / "ckpts", save_last=True)])
    trainer.fit(TinyRegressor(), loader(16), loader(16))
    n = 1 if fast is True else fast
    assert counter.train_batches == n and counter.val_batches == n and counter.sanity_batches == 0
    assert list(tmp_path.iterdir()) == []  # no logs, no checkpoints


@pytest.mark.parametrize("interval, runs_per_epoch", [(0.5, 2), (0.25, 4), (1.0, 1), (2, 2), (1, 4)])
def test_val_check_interval(tmp_path, interval, runs_per_epoch):
    _, counter = _fit(tmp_path, val=8, max_epochs=2, val_check_interval=interval)
    assert len(counter.val_runs) == 2 * runs_per_epoch


def test_check_val_every_n_epoch(tmp_path):
    _, counter = _fit(tmp_path, val=8, max_epochs=5, check_val_every_n_epoch=2)
    assert counter.val_runs == [1, 3]


def test_sanity_steps_run_first_and_are_not_logged(tmp_path):
    trainer, counter = _fit(tmp_path, val=16, max_epochs=1, num_sanity_val_steps=2, check_val_every_n_epoch=2,
                            logger=flash.CSVLogger(tmp_path), log_every_n_steps=1)
    assert counter.sanity_batches == 2 and counter.val_runs == []
    assert "val_loss" not in trainer.callback_metrics
    rows = list(csv.DictReader(open(tmp_path / "flash_logs" / "version_0" / "metrics.csv")))
    assert rows and all(not row.get("val_loss") for row in rows)


class ConstantVal(TinyRegressor):
    """Validation loss never improves (a constant)."""

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", 1.0)


def test_early_stopping_stops(tmp_path):
    stop = flash.EarlyStopping("val_loss", patience=2)
    trainer, counter = _fit(tmp_path, val=8, max_epochs=20, callbacks=[stop], model=ConstantVal())
    assert counter.val_runs == [0, 1, 2] and trainer.current_epoch == 3 and stop.stopped_epoch == 2


def test_min_epochs_overrides_early_stopping(tmp_path):
    stop = flash.EarlyStopping("val_loss", patience=1)
    trainer, counter = _fit(tmp_path, val=8, max_epochs=20, min_epochs=4, callbacks=[stop], model=ConstantVal())
    assert trainer.current_epoch == 4 and counter.val_runs == [0, 1, 2, 3]


def test_early_stopping_unknown_metric_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="val_acc"):
        _fit(tmp_path, val=8, max_epochs=2, callbacks=[flash.EarlyStopping("val_acc")])


@pytest.mark.parametrize("every, steps", [(1, [1, 2, 3, 4, 5, 6, 7, 8]), (3, [3, 6])])
def test_log_every_n_steps(tmp_path, every, steps):
    trainer, _ = _fit(tmp_path, max_epochs=2, log_every_n_steps=every, logger=flash.CSVLogger(tmp_path))
    rows = list(csv.DictReader(open(tmp_path / "flash_logs" / "version_0" / "metrics.csv")))
    assert [int(row["step"]) for row in rows if row.get("train_loss")] == steps


class CountingDataset(torch.utils.data.Dataset):
    """Counts how many samples the loader read."""

    def __init__(self, n: int) -> None:
        self.data, self.reads = dataset(n), 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        self.reads += 1
        return self.data[index]


def test_a_batch_limit_reads_no_batch_past_it(tmp_path):
    data = CountingDataset(16)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, limit_train_batches=2))
    trainer.fit(TinyRegressor(), DataLoader(data, batch_size=4))
    assert trainer.global_step == 4 and data.reads == 2 * 2 * 4  # 2 epochs of 2 batches of 4, nothing more


class LogsEveryKind(TinyRegressor):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("an_int_tensor", torch.tensor(3))
        self.log("a_bf16_tensor", torch.tensor(0.5, dtype=torch.bfloat16))
        self.log("a_shape_1_tensor", torch.tensor([0.25]))
        self.log("a_float", 0.125)
        return loss


def test_self_log_turns_every_scalar_into_a_float(tmp_path):
    trainer, _ = _fit(tmp_path, max_epochs=1, model=LogsEveryKind())
    names = ("an_int_tensor", "a_bf16_tensor", "a_shape_1_tensor", "a_float")
    values = {name: trainer.callback_metrics[name] for name in names}
    assert values == {"an_int_tensor": 3.0, "a_bf16_tensor": 0.5, "a_shape_1_tensor": 0.25, "a_float": 0.125}
    assert all(type(value) is float for value in values.values())


class LogsAVector(TinyRegressor):
    def training_step(self, batch, batch_idx):
        self.log("per_sample", torch.ones(4))
        return super().training_step(batch, batch_idx)


def test_self_log_of_a_vector_names_its_shape(tmp_path):
    with pytest.raises(ValueError, match=r"self.log needs a scalar; got a tensor of shape \(4,\)"):
        _fit(tmp_path, max_epochs=1, model=LogsAVector())


class LogsFromEveryHook(TinyRegressor):
    """self.log with default arguments from the places Lightning's table covers."""

    def on_train_epoch_start(self):
        self.log("from_epoch_start", 1.0)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.log("from_batch_end", float(batch_idx))

    def on_train_epoch_end(self):
        self.log("from_epoch_end", 2.0)

    def on_validation_epoch_end(self):
        self.log("from_val_epoch_end", 3.0)


def test_self_log_defaults_follow_where_it_is_called(tmp_path):
    trainer, _ = _fit(
        tmp_path, val=8, max_epochs=2, model=LogsFromEveryHook(), log_every_n_steps=1, logger=flash.CSVLogger(tmp_path)
    )
    metrics = trainer.callback_metrics
    # per epoch at the epoch's start and end (Lightning's defaults): nothing logged there is lost
    assert (
        metrics["from_epoch_start"] == 1.0 and metrics["from_epoch_end"] == 2.0 and metrics["from_val_epoch_end"] == 3.0
    )
    assert metrics["from_batch_end"] == 3.0  # per step in the batch hooks: the last batch's value
    assert "train_loss" in metrics and "train_loss_epoch" not in metrics  # training_step: per step only
    assert "val_loss" in metrics  # validation_step: per epoch
    rows = list(csv.DictReader(open(tmp_path / "flash_logs" / "version_0" / "metrics.csv")))
    assert [row["epoch"] for row in rows if row.get("from_epoch_end")] == ["0", "1"]
    assert [row["epoch"] for row in rows if row.get("from_epoch_start")] == ["0", "1"]
