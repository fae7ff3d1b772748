"""Checkpoint callbacks, the learning-rate monitor, CSV / TensorBoard loggers and the progress bar."""

from __future__ import annotations

import csv

import pytest
import torch

import flash
from flash.errors import ConfigurationError
from tests.engine.helpers import TinyRegressor, loader, quiet


class ScriptedVal(TinyRegressor):
    """val_loss follows a script, one value per epoch."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.values[self.current_epoch])


def test_save_top_k_keeps_exactly_the_best(tmp_path):
    values = [0.5, 0.3, 0.9, 0.1, 0.4]
    ckpt = flash.ModelCheckpoint(
        tmp_path / "ckpts", monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.1f}"
    )
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=5, callbacks=[ckpt]))
    trainer.fit(ScriptedVal(values), loader(8), loader(4))
    assert sorted(p.name for p in (tmp_path / "ckpts").iterdir()) == ["1-0.3.ckpt", "3-0.1.ckpt"]
    assert ckpt.best_model_path == str(tmp_path / "ckpts" / "3-0.1.ckpt") and ckpt.best_model_score == pytest.approx(
        0.1
    )
    best = torch.load(ckpt.best_model_path, weights_only=True)
    assert best["epoch"] == 3 and best["global_step"] == 8


def test_save_top_k_mode_max(tmp_path):
    ckpt = flash.ModelCheckpoint(tmp_path, monitor="val_loss", mode="max", save_top_k=1, filename="{epoch}")
    flash.Trainer(**quiet(tmp_path, max_epochs=3, callbacks=[ckpt])).fit(
        ScriptedVal([0.2, 0.7, 0.5]), loader(8), loader(4)
    )
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["1.ckpt"] and ckpt.best_model_score == pytest.approx(0.7)


def test_monitor_waits_for_the_first_validation(tmp_path):
    ckpt = flash.ModelCheckpoint(tmp_path, monitor="val_loss", filename="{epoch}")
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=4, check_val_every_n_epoch=2, callbacks=[ckpt]))
    trainer.fit(ScriptedVal([9, 0.4, 9, 0.6]), loader(8), loader(4))
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["1.ckpt"] and ckpt.best_model_score == pytest.approx(0.4)


@pytest.mark.parametrize("val", [True, False])
def test_monitor_that_is_never_logged_is_an_error(tmp_path, val):
    ckpt = flash.ModelCheckpoint(tmp_path, monitor="val_acc", save_last=True)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, callbacks=[ckpt]))
    with pytest.raises(ConfigurationError, match="monitor='val_acc'.*Logged: \\['train_loss'"):
        trainer.fit(TinyRegressor(), loader(8), loader(4) if val else None)


def test_every_n_epochs_and_save_last(tmp_path):
    ckpt = flash.ModelCheckpoint(tmp_path, every_n_epochs=2, save_top_k=-1)
    last = flash.ModelCheckpoint(tmp_path / "last", save_last=True)
    flash.Trainer(**quiet(tmp_path, max_epochs=5, callbacks=[ckpt, last])).fit(TinyRegressor(), loader(8))
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["epoch=1-step=4.ckpt", "epoch=3-step=8.ckpt"]
    assert torch.load(tmp_path / "last" / "last.ckpt", weights_only=True)["global_step"] == 10


def test_save_top_k_one_without_monitor_keeps_the_latest(tmp_path):
    ckpt = flash.ModelCheckpoint(tmp_path, every_n_train_steps=3)
    flash.Trainer(**quiet(tmp_path, max_steps=8, callbacks=[ckpt])).fit(TinyRegressor(), loader(8))
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["epoch=2-step=6.ckpt"]
    assert ckpt.best_model_path.endswith("epoch=2-step=6.ckpt")


def test_top_k_without_monitor_is_an_error():
    with pytest.raises(ConfigurationError, match="save_top_k=2, monitor=None"):
        flash.ModelCheckpoint(save_top_k=2)


def test_default_checkpoint_goes_under_the_logger_version(tmp_path):
    trainer = flash.Trainer(accelerator="cpu", max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.fit(TinyRegressor(), loader(8))
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ckpt")] == [
        "flash_logs/version_0/checkpoints/epoch=0-step=2.ckpt"
    ]
    assert (tmp_path / "flash_logs" / "version_0" / "hparams.yaml").is_file()


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_csv_logger_and_learning_rate_monitor(tmp_path):
    class Halving(TinyRegressor):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)}

    logger = flash.CSVLogger(tmp_path, name="run")
    trainer = flash.Trainer(
        **quiet(
            tmp_path, max_epochs=2, logger=logger, log_every_n_steps=1, callbacks=[flash.LearningRateMonitor("epoch")]
        )
    )
    trainer.fit(Halving(), loader(8), loader(4))
    rows = _rows(tmp_path / "run" / "version_0" / "metrics.csv")
    assert {"epoch", "step", "train_loss", "val_loss", "lr-SGD"} <= set(rows[0])
    assert [float(r["lr-SGD"]) for r in rows if r["lr-SGD"]] == [0.1, 0.05]
    assert [int(r["step"]) for r in rows if r["train_loss"]] == [1, 2, 3, 4]
    val_rows = [r for r in rows if r["val_loss"]]
    assert [(int(r["epoch"]), int(r["step"])) for r in val_rows] == [(0, 2), (1, 4)]
    assert float(val_rows[-1]["val_loss"]) == pytest.approx(trainer.callback_metrics["val_loss"])


def test_tensorboard_logger_scalars_are_readable(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = flash.TensorBoardLogger(tmp_path)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, logger=logger, log_every_n_steps=1))
    logged = []

    class Record(flash.Callback):
        def on_validation_end(self, trainer, module):
            logged.append(trainer.callback_metrics["val_loss"])

    trainer.callbacks.append(Record())
    trainer.fit(TinyRegressor(), loader(8), loader(4))
    events = EventAccumulator(str(logger.log_dir))
    events.Reload()
    assert {"train_loss", "val_loss"} <= set(events.Tags()["scalars"])
    val = events.Scalars("val_loss")
    assert [e.step for e in val] == [2, 4]
    assert [e.value for e in val] == pytest.approx(logged)
    assert len(events.Scalars("train_loss")) == 4


def test_progress_bar_is_silent_without_a_terminal(tmp_path, capsys):
    trainer = flash.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False, default_root_dir=tmp_path
    )
    trainer.fit(TinyRegressor(), loader(8), loader(4))
    trainer.predict(TinyRegressor(), loader(4))
    assert capsys.readouterr() == ("", "")


def test_progress_bar_when_enabled(tmp_path, capsys):
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, enable_progress_bar=True))
    trainer.fit(TinyRegressor(), loader(8), loader(4))
    trainer.validate(TinyRegressor(), loader(4))
    err = capsys.readouterr().err
    assert "Epoch 0" in err and "Epoch 1" in err and "loss=" in err and "Validation" in err
    assert "2/2" in err  # each epoch's last redraw shows its full count


class Finetune(flash.Callback):
    def __init__(self):
        self.started = False

    def on_fit_start(self, trainer, module):
        self.started = True
        for p in module.net[0].parameters():
            p.requires_grad_(False)


def test_finetune_uses_a_callback_strategy(tmp_path):
    model, strategy = TinyRegressor(), Finetune()
    frozen = [p.detach().clone() for p in model.net[0].parameters()]
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    trainer.finetune(model, loader(8), strategy=strategy)
    assert strategy.started and all(torch.equal(p, f) for p, f in zip(model.net[0].parameters(), frozen))
    assert not torch.equal(model.net[3].weight, TinyRegressor().net[3].weight)
    assert strategy not in trainer.callbacks + trainer._extra_callbacks  # used for that run only


def test_finetune_asks_the_model_for_its_callback(tmp_path):
    class Model(TinyRegressor):
        def configure_finetune_callback(self, strategy, train_bn=True):
            self.asked = (strategy, train_bn)
            return Finetune()

    model = Model()
    flash.Trainer(**quiet(tmp_path, max_epochs=1)).finetune(model, loader(8), strategy="freeze", train_bn=False)
    assert model.asked == ("freeze", False) and not model.net[0].weight.requires_grad


def test_finetune_string_strategy_needs_the_model_hook(tmp_path):
    with pytest.raises(ConfigurationError, match="configure_finetune_callback.*strategy='freeze'"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).finetune(TinyRegressor(), loader(8), strategy="freeze")


def test_progress_bar_in_a_notebook_without_ipywidgets_falls_back_to_text(tmp_path, capsys, monkeypatch):
    from flash.engine import progress

    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    monkeypatch.setattr(progress, "_has_widgets", lambda: False)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, enable_progress_bar=None))
    trainer.fit(TinyRegressor(), loader(8), loader(4))
    assert "Epoch 0" in capsys.readouterr().err


def _csv_rows(path):
    return list(csv.DictReader(open(path))) if path.is_file() else []


def test_csv_logger_buffers_rows_and_writes_them_all_when_training_ends(tmp_path):
    logger = flash.CSVLogger(tmp_path, name="run", flush_interval=3600)
    path = tmp_path / "run" / "version_0" / "metrics.csv"
    for step in range(3):
        logger.log_metrics({"epoch": 0, "train_loss": 1.0 / (step + 1)}, step)
    assert len(_csv_rows(path)) == 1  # the first row is written at once, the rest wait for the interval
    logger.log_metrics({"epoch": 0, "val_loss": 0.5}, 3)  # a new column: the file is rewritten with it
    logger.finalize("success")  # Lightning's signature: a Fabric program passes the status
    rows = _csv_rows(path)
    assert [r["step"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[3]["val_loss"] == "0.5" and rows[1]["train_loss"] == "0.5"


def test_validate_and_test_rows_reach_the_csv_when_the_call_returns(tmp_path):
    logger = flash.CSVLogger(tmp_path, name="run", flush_interval=3600)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, logger=logger, log_every_n_steps=1))
    model = TinyRegressor()
    trainer.fit(model, loader(8))
    trainer.validate(model, loader(4))
    trainer.test(model, loader(4))
    rows = _csv_rows(tmp_path / "run" / "version_0" / "metrics.csv")
    assert [r for r in rows if r.get("val_loss")] and [r for r in rows if r.get("test_loss")]


def test_a_failed_fit_still_writes_the_buffered_rows(tmp_path):
    class FailsLate(TinyRegressor):
        def training_step(self, batch, batch_idx):
            if self.global_step == 3:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    logger = flash.CSVLogger(tmp_path, name="run", flush_interval=3600)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, logger=logger, log_every_n_steps=1))
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(FailsLate(), loader(16))
    rows = _csv_rows(tmp_path / "run" / "version_0" / "metrics.csv")
    assert [int(r["step"]) for r in rows if r["train_loss"]] == [1, 2, 3]


class _Recorder:
    """A duck-typed callback (not a flash.Callback subclass) with one hook."""

    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.batches += 1

    def __getattr__(self, name):  # every other hook: a no-op
        if name.startswith(("on_", "setup", "teardown")):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def test_hooks_run_for_overriding_and_duck_typed_callbacks_and_instance_attributes(tmp_path):
    calls = []
    patched = flash.Callback()
    patched.on_train_batch_start = lambda trainer, module, batch, batch_idx: calls.append(batch_idx)
    duck = _Recorder()
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=2, callbacks=[patched, duck]))
    trainer.fit(TinyRegressor(), loader(8))
    assert calls == [0, 1, 0, 1] and duck.batches == 4


def test_a_callback_added_during_training_runs_from_the_next_epoch(tmp_path):
    late = _Recorder()

    class AddsOne(flash.Callback):
        def on_train_epoch_end(self, trainer, module):
            if late not in trainer.callbacks:
                trainer.callbacks.append(late)

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=3, callbacks=[AddsOne()]))
    trainer.fit(TinyRegressor(), loader(8))
    assert late.batches == 4  # epochs 1 and 2, two batches each


def test_validation_metrics_logged_with_prog_bar_show_in_the_training_bar(tmp_path, capsys):
    class ShowsVal(TinyRegressor):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", self.loss(batch), prog_bar=True)
            self.log("val_hidden", self.loss(batch))

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, enable_progress_bar=True))
    trainer.fit(ShowsVal(), loader(8), loader(4))
    assert trainer.progress_bar_metrics["val_loss"] == pytest.approx(trainer.callback_metrics["val_loss"])
    assert "val_hidden" not in trainer.progress_bar_metrics
    err = capsys.readouterr().err
    assert f"val_loss={trainer.callback_metrics['val_loss']:.3g}" in err
