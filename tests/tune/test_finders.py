"""The learning-rate and batch-size finders: they train for real, then put everything back bitwise."""

from __future__ import annotations

import math

import pytest
import torch

from flash.engine.module import TrainingModule
from flash.errors import ConfigurationError
from flash.tune.batch_size import search_batch_size
from flash.tune.lr_finder import suggest_learning_rate, sweep_learning_rates
from flash.tune.tuner import Tuner

from .conftest import TASKS, assert_bitwise_equal, clone_state, digits, quiet_trainer, seeded


@pytest.mark.parametrize("task", sorted(TASKS))
def test_lr_find_restores_the_model_bitwise_for_every_task(task, tmp_path):
    """A freeze-strategy sweep on each task: weights, buffers, trainability, modes and RNG are as before."""
    seeded()
    model, datamodule = TASKS[task](tmp_path)
    before, trainable = clone_state(model), [p.requires_grad for p in model.parameters()]
    rng = torch.get_rng_state()
    trainer = quiet_trainer(tmp_path)
    result = Tuner(trainer).lr_find(model, datamodule=datamodule, strategy="freeze", num_training=6,
                                    min_lr=1e-5, max_lr=1e-2, early_stop_threshold=None)
    assert_bitwise_equal(before, model)
    assert [p.requires_grad for p in model.parameters()] == trainable  # "freeze" froze the backbone meanwhile
    assert torch.equal(torch.get_rng_state(), rng)
    assert len(result.lrs) == 6 and all(math.isfinite(v) for v in result.losses)
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1e-2)
    assert result.suggestion in result.lrs and model.learning_rate == result.suggestion
    assert model.hparams["learning_rate"] == result.suggestion  # what a checkpoint rebuilds the task with
    assert result.plot_path == tmp_path / "lr_find.png" and result.plot_path.stat().st_size > 1000


def test_lr_find_restores_the_optimizer_state_and_records_the_choice(tmp_path):
    """After a fit, a sweep leaves the trainer's optimizer state, and the later fit's start, unchanged."""
    seeded()
    model, datamodule = TASKS["image_classification"](tmp_path)
    trainer = quiet_trainer(tmp_path, max_steps=2)
    trainer.fit(model, datamodule=datamodule)
    optimizer_state = trainer.optimizers[0].state_dict()
    exp_avg = {i: s["exp_avg"].clone() for i, s in optimizer_state["state"].items()}
    weights = clone_state(model)
    result = Tuner(trainer).lr_find(model, datamodule=datamodule, num_training=20, plot_path=None)
    assert_bitwise_equal(weights, model)
    for i, state in trainer.optimizers[0].state_dict()["state"].items():
        assert torch.equal(state["exp_avg"], exp_avg[i])
    assert result.plot_path is None and result.suggestion is not None
    tuned = [c for c in trainer.callbacks if type(c).__name__ == "TunedHyperparameters"]
    assert len(tuned) == 1 and tuned[0].values == {"learning_rate": result.suggestion}


def test_lr_find_stops_once_the_loss_diverges(tmp_path):
    seeded()
    model, datamodule = TASKS["image_classification"](tmp_path)
    result = Tuner(quiet_trainer(tmp_path)).lr_find(model, datamodule=datamodule, min_lr=1e-2, max_lr=1e6,
                                                     num_training=40, plot_path=None, update_attr=False)
    assert 2 <= len(result.lrs) < 40  # Adam at lr 1e6 blows the loss up long before the last step
    assert model.learning_rate == 1e-3  # update_attr=False


def test_suggestion_and_sweep_arguments():
    lrs = sweep_learning_rates(min_lr=1e-6, max_lr=1.0, num_steps=7)
    assert [round(math.log10(lr)) for lr in lrs] == [-6, -5, -4, -3, -2, -1, 0]
    # a noisy flat start (steps 0-9), a long fall (10-21), then divergence: the suggestion is on the fall
    lrs = sweep_learning_rates(min_lr=1e-6, max_lr=1.0, num_steps=25)
    losses = [2.3 + 0.03 * (-1) ** i for i in range(10)] + [2.2 - 0.15 * i for i in range(12)] + [1.0, 2.0, 9.0]
    assert suggest_learning_rate(lrs, losses) in lrs[11:21]
    assert suggest_learning_rate(lrs[:2], losses[:2]) is None
    with pytest.raises(ConfigurationError, match="min_lr < max_lr"):
        sweep_learning_rates(min_lr=1.0, max_lr=0.1, num_steps=5)
    with pytest.raises(ConfigurationError, match="num_training >= 2"):
        sweep_learning_rates(min_lr=1e-5, max_lr=0.1, num_steps=1)


def test_scale_batch_size_keeps_within_a_cpu_memory_budget_and_saves_the_choice(tmp_path):
    """Measured step memory grows with the batch; the chosen size is the largest within budget, less 10%."""
    seeded()
    model, datamodule = TASKS["image_classification"](tmp_path)
    weights = clone_state(model)
    trainer = quiet_trainer(tmp_path, max_steps=1)
    tuner = Tuner(trainer)
    free = tuner.scale_batch_size(model, datamodule=datamodule, mode="power", memory_budget=10**12)
    assert free.largest == 36 and sorted(free.trials) == [2, 4, 8, 16, 32, 36]  # capped at the 36 training samples
    memory = free.memory
    assert memory[2] < memory[4] < memory[8] < memory[16] < memory[32]
    budget = (memory[8] + memory[16]) // 2
    found = tuner.scale_batch_size(model, datamodule=datamodule, memory_budget=budget)
    assert 8 <= found.largest < 16 and found.memory[found.largest] <= budget
    assert all(found.memory[s] > budget for s in found.trials if s > found.largest)
    assert found.batch_size == int(found.largest * 0.9) and datamodule.batch_size == found.batch_size
    assert_bitwise_equal(weights, model)
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["hyper_parameters"]["batch_size"] == found.batch_size == checkpoint["tuned"]["batch_size"]
    reloaded = type(model).load_from_checkpoint(str(tmp_path / "model.pt"))  # batch_size is no task argument
    assert reloaded.hparams["backbone"] == "test_resnet"


class _RunsOutAbove(TrainingModule):
    """A module whose step raises CUDA's out-of-memory error for batches above ``limit``, as a GPU would."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.layer = limit, torch.nn.Linear(3 * 16 * 16, 10)

    def training_step(self, batch, batch_idx):
        inputs = batch["input"].flatten(1)
        if len(inputs) > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(inputs)} MiB")
        return torch.nn.functional.cross_entropy(self.layer(inputs), batch["target"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_scale_batch_size_backs_off_after_out_of_memory(tmp_path):
    seeded()
    model, datamodule = _RunsOutAbove(limit=12), digits(n=96)
    weights = clone_state(model)
    found = Tuner(quiet_trainer(tmp_path)).scale_batch_size(model, datamodule=datamodule, memory_budget=10**12)
    assert found.largest == 12 and found.trials[16] is False and found.batch_size == 10
    assert_bitwise_equal(weights, model)


def test_batch_size_search_logic_and_errors():
    found = search_batch_size(lambda size: size <= 40, init_val=4, max_val=1000, margin=0.1)
    assert (found.largest, found.batch_size) == (40, 36)
    assert search_batch_size(lambda size: size <= 40, init_val=4, mode="power", margin=0.0).largest == 32
    assert search_batch_size(lambda size: size <= 3, init_val=16, margin=0.0).largest == 3  # halves down, then bisects
    with pytest.raises(ConfigurationError, match="Not even a batch of 1"):
        search_batch_size(lambda size: False, init_val=4)
    with pytest.raises(ConfigurationError, match="margin"):
        search_batch_size(lambda size: True, margin=1.5)


def test_public_names():
    import flash.tune
    import flash.tune.study  # a submodule import must not shadow the search function

    assert flash.Tuner is Tuner
    assert flash.tune.__all__ == ["BatchSizeResult", "LRFinderResult", "SearchResult", "SearchSpace",
                                  "TunedHyperparameters", "Tuner", "search"]
    assert all(getattr(flash.tune, name) is not None for name in flash.tune.__all__)
    assert flash.tune.search is flash.tune.study.search
