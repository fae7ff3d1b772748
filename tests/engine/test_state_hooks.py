"""The loop's state in one FitState (saved whole, older checkpoints still resume), hooks run in one
documented order (the model's, then each callback's), and strategies asked rather than compared by name."""

from __future__ import annotations

import pytest
import torch

import flash
from flash.engine.checkpoint import load_checkpoint
from flash.engine.hooks import HookDispatcher
from flash.engine.state import FitState
from flash.engine.strategy import STRATEGIES, DDPStrategy, FSDPStrategy, ParallelStrategy, Strategy, get_strategy
from tests.engine.helpers import TinyRegressor, loader, quiet

# every hook a run of fit + save_checkpoint + validate + test + predict calls, with the model and a callback
HOOKS = ["setup", "on_fit_start", "on_train_start", "on_train_epoch_start", "on_train_batch_start",
         "on_train_batch_end", "on_before_optimizer_step", "on_train_epoch_end", "on_validation_start",
         "on_validation_epoch_start", "on_validation_batch_end", "on_validation_epoch_end", "on_validation_end",
         "on_train_end", "on_fit_end", "teardown", "on_save_checkpoint", "on_test_start", "on_test_epoch_start",
         "on_test_batch_end", "on_test_epoch_end", "on_test_end", "on_predict_start", "on_predict_batch_end",
         "on_predict_end", "on_load_checkpoint"]


def _recorder(owner: str, calls: list, *, model: bool):
    def make(hook):
        if model:
            return lambda self, *args: calls.append((hook, owner))
        return lambda self, trainer, module, *args: calls.append((hook, owner))

    return {hook: make(hook) for hook in HOOKS}


def test_every_hook_runs_on_the_model_then_on_each_callback(tmp_path):
    calls: list[tuple[str, str]] = []
    Model = type("Model", (TinyRegressor,), _recorder("model", calls, model=True))
    first = type("First", (flash.Callback,), _recorder("first", calls, model=False))()
    second = type("Second", (flash.Callback,), _recorder("second", calls, model=False))()
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                                    callbacks=[first, second]))
    model = Model()
    trainer.fit(model, loader(), loader(seed=1))
    trainer.save_checkpoint(tmp_path / "x.ckpt")
    trainer.test(model, loader(seed=1), ckpt_path=tmp_path / "x.ckpt")
    trainer.predict(model, loader(), return_predictions=False)
    assert {hook for hook, _ in calls} == set(HOOKS)
    # each hook's calls come in runs of (model, first, second): one order everywhere, checkpoints included
    for i in range(0, len(calls), 3):
        hook = calls[i][0]
        assert calls[i : i + 3] == [(hook, "model"), (hook, "first"), (hook, "second")], calls[i : i + 3]


def test_epoch_end_means_include_what_the_model_logs_and_callbacks_read_them(tmp_path):
    class Model(TinyRegressor):
        def on_validation_epoch_end(self):
            self.log("from_hook", 2.0)

    class Reader(flash.Callback):
        def on_validation_epoch_end(self, trainer, module):
            self.seen = trainer.callback_metrics.get("from_hook")

    reader = Reader()
    flash.Trainer(**quiet(tmp_path, callbacks=[reader])).validate(Model(), loader())
    assert reader.seen == 2.0


def test_dispatcher_notices_new_callbacks_without_a_reset():
    calls = []

    class Hello(flash.Callback):
        def on_fit_start(self, trainer, module):
            calls.append(self)

    callbacks: list = [Hello()]
    hooks = HookDispatcher(trainer=None, model=lambda: None, callbacks=lambda: callbacks)
    hooks.call("on_fit_start")
    callbacks.append(Hello())
    hooks.call("on_fit_start")
    assert calls == [callbacks[0], callbacks[0], callbacks[1]]
    assert hooks.methods("on_train_end") == []  # base no-ops are skipped


def test_callbacks_and_the_bar_read_public_fit_state(tmp_path):
    seen = []

    class Watch(flash.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            state = trainer.fit_state
            seen.append((state.batches_seen, state.optimizer_stepped, trainer.global_step, trainer.current_epoch))

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1, accumulate_grad_batches=2, callbacks=[Watch()]))
    trainer.fit(TinyRegressor(), loader())
    assert seen == [(1, False, 0, 0), (2, True, 1, 0), (3, False, 1, 0), (4, True, 2, 0)]
    assert trainer.fit_state.epoch == trainer.current_epoch == 1 and trainer.fit_state.batches_seen == 0


def test_fit_state_round_trips_and_is_saved_whole(tmp_path):
    state = FitState(epoch=1, global_step=7, batches_seen=3, val_pending=True, window_finite=False)
    state.results.add("loss", torch.tensor(2.0), True, True, False, 4, False)
    again = FitState.from_checkpoint(state.state_dict())
    assert again.state_dict() == state.state_dict()

    class Stop(flash.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                trainer.save_checkpoint(tmp_path / "mid.ckpt")

    flash.Trainer(**quiet(tmp_path, max_epochs=1, callbacks=[Stop()])).fit(TinyRegressor(), loader())
    loops = load_checkpoint(tmp_path / "mid.ckpt")["loops"]
    assert set(loops) == set(FitState().state_dict()) and loops["batches_seen"] == 3 and loops["global_step"] == 3


def test_format_version_1_loops_resume_as_fit_state():
    """A version-1 checkpoint's "loops" (no window_finite; float32 tensor sums) loads into FitState."""
    v1 = {"epoch": 0, "batches_seen": 1, "epoch_finished": False, "global_step": 1, "val_pending": True,
          "results": {"step_values": {"train_loss": 0.5}, "sums": {"train_loss": torch.tensor(2.0)},
                      "counts": {"train_loss": 4.0}, "prog_bar": ["train_loss"]}}
    state = FitState.from_checkpoint(v1)
    assert (state.epoch, state.global_step, state.batches_seen, state.val_pending, state.window_finite) == (
        0, 1, 1, True, True)
    assert state.results.epoch_means() == {"train_loss": 0.5}
    finished = FitState.from_checkpoint({**v1, "epoch_finished": True, "results": None})
    assert (finished.epoch, finished.batches_seen, finished.val_pending) == (1, 0, False)


@pytest.mark.parametrize("field, value, settings, done", [
    ("global_step", 5, dict(max_steps=5), True),
    ("global_step", 4, dict(max_steps=5), False),
    ("epoch", 2, dict(max_epochs=2), True),
    ("should_stop", True, dict(min_epochs=1), False),  # epoch 0 < min_epochs
    ("should_stop", True, dict(min_epochs=0), True),
])
def test_one_stop_condition(field, value, settings, done):
    s = flash.Trainer(accelerator="cpu", logger=False, **settings).settings
    state = FitState()
    setattr(state, field, value)
    assert state.done(s) is done


def test_strategies_are_siblings_asked_not_named():
    assert issubclass(DDPStrategy, ParallelStrategy) and issubclass(FSDPStrategy, ParallelStrategy)
    assert not issubclass(FSDPStrategy, DDPStrategy)
    assert FSDPStrategy.forward_is_collective and not DDPStrategy.forward_is_collective
    assert not Strategy.forward_is_collective
    assert "fsdp" in STRATEGIES and isinstance(get_strategy("fsdp", num_processes=2), FSDPStrategy)
    module = torch.nn.Linear(2, 2)
    assert Strategy().rewrap(module, None) is None


def test_ddp_wraps_again_only_when_trainable_parameters_changed(monkeypatch):
    monkeypatch.setattr("torch.nn.parallel.DistributedDataParallel", lambda module, **kwargs: ("ddp", module))
    strategy, module = DDPStrategy(), torch.nn.Linear(2, 2)
    strategy.env.world_size = 2
    module.weight.requires_grad_(False)
    wrapped = strategy.wrap(module)
    assert strategy.rewrap(module, wrapped) is wrapped  # nothing (un)frozen since
    module.weight.requires_grad_(True)  # a finetuning callback unfroze a layer
    rewrapped = strategy.rewrap(module, wrapped)
    assert rewrapped is not wrapped and rewrapped[0] == "ddp"
    assert strategy.rewrap(module, rewrapped) is rewrapped
