"""Fabric in one process: the wrapped objects, precision, checkpoints, callbacks, loggers and clear errors."""

from __future__ import annotations

import pytest
import torch

import flash
from flash.engine.loggers import CSVLogger
from flash.errors import CheckpointError, ConfigurationError
from flash.fabric import Fabric, seed_everything
from flash.fabric.environment import ClusterEnv
from flash.fabric.strategy import Strategy
from tests.fabric.helpers import loader, net, train


def _fabric(**kwargs) -> Fabric:
    fabric = Fabric(accelerator="cpu", devices=1, **kwargs)
    fabric.launch()
    return fabric


def test_wrapped_objects_behave_like_the_originals():
    fabric = _fabric()
    original = net()
    sgd = torch.optim.SGD(original.parameters(), lr=0.1)
    model, optimizer = fabric.setup(original, sgd)
    assert model.module is original and model.state_dict().keys() == original.state_dict().keys()
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups is sgd.param_groups
    original.register_buffer("seen", torch.zeros(1))
    assert model.seen is original.seen and model.training  # attributes are the original's
    original.threshold = 0.5
    assert model.threshold == 0.5
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)  # an Optimizer instance
    train(fabric, model, optimizer, fabric.setup_dataloaders(loader()), steps=2)
    scheduler.step()
    assert sgd.param_groups[0]["lr"] == pytest.approx(0.05)
    assert fabric.device == torch.device("cpu") and fabric.world_size == 1 and fabric.is_global_zero


def test_other_methods_run_through_the_wrapper():
    class WithStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, x):
            return self.layer(x)

    fabric = _fabric(precision="bf16-mixed")
    model = fabric.setup(WithStep())
    seen = []
    model.module.layer.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    out = model.training_step(torch.randn(2, 4))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32  # autocast inside, float32 out


def test_bf16_mixed_autocasts_on_cpu():
    fabric = _fabric(precision="bf16-mixed")
    original = net()
    model, optimizer = fabric.setup(original, torch.optim.SGD(original.parameters(), lr=0.1))
    inner = []
    original[0].register_forward_hook(lambda m, i, out: inner.append(out.dtype))
    x = torch.randn(8, 4)
    out = model(x)
    assert inner == [torch.bfloat16] and out.dtype == torch.float32
    assert original[0].weight.dtype == torch.float32  # mixed: parameters stay float32
    with fabric.autocast():
        assert (original[0].weight @ x.T).dtype == torch.bfloat16
    before = original[0].weight.detach().clone()
    fabric.backward(out.pow(2).mean())
    optimizer.step()
    assert not torch.equal(before, original[0].weight)


def test_save_and_load_mid_run_then_continue_equals_an_uninterrupted_run(tmp_path):
    def start():
        seed_everything(7)
        fabric = _fabric()
        original = net(seed=1)
        model, optimizer = fabric.setup(original, torch.optim.Adam(original.parameters(), lr=0.01))
        return fabric, model, optimizer, fabric.setup_dataloaders(loader())

    fabric, model, optimizer, data = start()
    train(fabric, model, optimizer, data, steps=8)
    uninterrupted = {k: v.clone() for k, v in model.state_dict().items()}

    fabric, model, optimizer, data = start()
    step = train(fabric, model, optimizer, data, steps=4)  # 4 of 4 batches: an epoch boundary
    fabric.save(tmp_path / "mid.ckpt", {"model": model, "optimizer": optimizer, "step": step, "note": "mid"})
    fabric, model, optimizer, data = start()  # a new process would start like this
    state = {"model": model, "optimizer": optimizer, "step": 0}
    remainder = fabric.load(tmp_path / "mid.ckpt", state)
    assert remainder == {"note": "mid"} and state["step"] == 4
    train(fabric, model, optimizer, data, steps=4, start=state["step"])
    assert all(torch.equal(uninterrupted[k], v) for k, v in model.state_dict().items())


def test_load_is_strict_about_missing_keys_and_reads_raw_state_dicts(tmp_path):
    fabric = _fabric()
    model = fabric.setup(net())
    fabric.save(tmp_path / "a.ckpt", {"model": model})
    with pytest.raises(CheckpointError, match=r"has no \['optimizer'\].*strict=False"):
        fabric.load(tmp_path / "a.ckpt", {"model": model, "optimizer": None})
    assert fabric.load(tmp_path / "a.ckpt", {"model": model, "step": 1}, strict=False) == {}
    assert set(fabric.load(tmp_path / "a.ckpt")) == {"model"}
    fabric.save(tmp_path / "b.ckpt", {"model": model}, filter={"model": lambda name, value: name.startswith("2.")})
    assert set(fabric.load(tmp_path / "b.ckpt")["model"]) == {"2.weight", "2.bias"}
    other = net(seed=5)
    torch.save(other.state_dict(), tmp_path / "raw.pt")
    fabric.load_raw(tmp_path / "raw.pt", model)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    with pytest.raises(CheckpointError, match="not a flash checkpoint"):
        fabric.load(tmp_path / "raw.pt", {"model": model})


def test_no_backward_sync_accumulation_equals_one_big_batch():
    fabric = _fabric()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    big, small = net(seed=2), net(seed=2)
    big_model, big_opt = fabric.setup(big, torch.optim.SGD(big.parameters(), lr=0.1))
    fabric.backward(torch.nn.functional.mse_loss(big_model(x), y))
    big_opt.step()
    model, optimizer = fabric.setup(small, torch.optim.SGD(small.parameters(), lr=0.1))
    for i, part in enumerate((slice(0, 4), slice(4, 8))):
        with fabric.no_backward_sync(model, enabled=i == 0):
            fabric.backward(torch.nn.functional.mse_loss(model(x[part]), y[part]) / 2)
    optimizer.step()
    for a, b in zip(big.parameters(), small.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_call_runs_the_hook_on_every_callback_that_has_it():
    calls = []

    class First:
        def on_train_start(self, fabric, epoch=0):
            calls.append(("first", epoch))

    class Second:
        def on_train_start(self, fabric, epoch=0):
            calls.append(("second", epoch))

    fabric = Fabric(accelerator="cpu", callbacks=[First(), object(), Second()])
    fabric.call("on_train_start", fabric, epoch=3)
    fabric.call("on_missing_hook", fabric)
    assert calls == [("first", 3), ("second", 3)]


def test_log_and_log_dict_go_to_flash_loggers(tmp_path):
    logger = CSVLogger(tmp_path, name="fabric")
    fabric = _fabric(loggers=logger)
    fabric.log("loss", torch.tensor(0.5), step=1)
    fabric.log_dict({"loss": 0.25, "acc": 1}, step=2)
    logger.finalize()
    text = (tmp_path / "fabric").rglob("metrics.csv").__next__().read_text()
    assert "loss" in text and "0.25" in text and "acc" in text
    assert fabric.logger is logger and fabric.loggers == [logger]


def test_collectives_in_one_process_are_identities():
    fabric = _fabric()
    assert fabric.broadcast({"a": 1}) == {"a": 1}
    assert torch.equal(fabric.all_reduce(torch.tensor([1.0, 3.0])), torch.tensor([1.0, 3.0]))
    assert fabric.all_reduce(2.0, reduce_op="sum").item() == 2.0
    with fabric.rank_zero_first():
        fabric.barrier()
    with fabric.init_module():
        layer = torch.nn.Linear(2, 2)
    assert layer.weight.device == fabric.device
    assert fabric.to_device({"x": torch.ones(1)})["x"].device == fabric.device


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(ConfigurationError, match="16-mixed.*bf16-mixed.*Received: precision='16-mixed'"):
        Fabric(accelerator="cpu", precision="16-mixed")
    with pytest.raises(ConfigurationError, match="Did you mean 'ddp'"):
        Fabric(accelerator="cpu", strategy="dpp")
    fabric = _fabric()
    with pytest.raises(ConfigurationError, match="before any module was set up"):
        fabric.backward(torch.ones(1, requires_grad=True).sum())
    with pytest.raises(ConfigurationError, match="belong to no module set up.*fabric.setup"):
        fabric.setup_optimizers(torch.optim.SGD(net().parameters(), lr=0.1))
    with pytest.raises(ConfigurationError, match="needs the set-up model"):
        with fabric.no_backward_sync(net()):
            pass
    with pytest.raises(ConfigurationError, match="already called"):
        fabric.launch()
    with pytest.raises(ConfigurationError, match="ddp_spawn.*pass it"):
        Fabric(accelerator="cpu", devices=2, strategy="ddp_spawn").launch()


def test_a_loader_not_set_up_under_ddp_is_refused():
    """Several processes and no set-up loader: every process would see the same data."""
    two = Strategy()
    two.env = ClusterEnv(world_size=2)  # as if two processes; nothing here needs the others
    fabric = Fabric(accelerator="cpu", strategy=two)
    fabric.launch()
    model = fabric.setup(net())
    with pytest.raises(ConfigurationError, match="no DataLoader was set up.*setup_dataloaders"):
        fabric.backward(model(torch.randn(2, 4)).sum())


def test_import_flash_fabric_is_light():
    import subprocess
    import sys

    code = "import sys, flash.fabric; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=600).stdout.strip() == "False"
    assert flash.Fabric is Fabric
