"""One RunContext per run: the model's callbacks live for its fit only; the engine's default callbacks."""

from __future__ import annotations

import flash
from flash.engine.defaults import _FACTORIES, default_callbacks, register_default_callback
from tests.engine.helpers import TinyRegressor, loader, quiet


class Counting(flash.Callback):
    def __init__(self):
        self.fits = 0
        self.steps = 0

    def on_fit_start(self, trainer, module):
        self.fits += 1

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.steps += 1


class WithCallback(TinyRegressor):
    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def configure_callbacks(self):
        return [self.callback]


def test_a_models_callbacks_live_for_its_fit_only(tmp_path):
    """fit(model_a) then fit(model_b) on one Trainer: model_b's fit runs model_b's callbacks, not model_a's."""
    first, second = Counting(), Counting()
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, report=False))
    trainer.fit(WithCallback(first), loader(8))
    assert (first.fits, first.steps) == (1, 2)
    assert trainer.run is None and first not in trainer.callbacks
    trainer.fit(WithCallback(second), loader(8))
    assert (first.fits, first.steps) == (1, 2)  # model_a's callback did not run again
    assert (second.fits, second.steps) == (1, 2)
    trainer.fit(TinyRegressor(), loader(8))  # a model without callbacks runs none of theirs
    assert (first.fits, second.fits) == (1, 1)


def test_the_run_is_visible_to_callbacks_while_it_runs(tmp_path):
    seen = []

    class Looking(flash.Callback):
        def on_fit_start(self, trainer, module):
            seen.append((trainer.run.model is module, [type(c).__name__ for c in trainer.run.extra_callbacks]))

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, report=False, callbacks=[Looking()]))
    trainer.fit(WithCallback(Counting()), loader(8))
    assert seen == [(True, ["Counting"])]


def test_default_callbacks_come_from_registered_flags(monkeypatch):
    monkeypatch.setattr("flash.engine.defaults._FACTORIES", dict(_FACTORIES))
    register_default_callback("counting", Counting)
    made = default_callbacks({"counting": True, "report": False})
    assert [type(c) for c in made] == [Counting]
    assert default_callbacks({"counting": False, "report": False}) == []
    assert default_callbacks({"unregistered": True}) == []


def test_report_flag_adds_the_registered_report_callback(tmp_path):
    from flash.reports.callback import ReportCallback

    def reports(trainer):
        return [c for c in trainer.callbacks if isinstance(c, ReportCallback)]

    assert len(reports(flash.Trainer(**quiet(tmp_path)))) == 1  # report=True is the default
    assert reports(flash.Trainer(**quiet(tmp_path, report=False))) == []
    mine = ReportCallback()
    assert reports(flash.Trainer(**quiet(tmp_path, callbacks=[mine]))) == [mine]  # the user's, not a second one
