"""Fabric with strategy="fsdp" (FSDP2) on two CPU processes (gloo): the same numbers as one process on the same
global batch, and ``fabric.save`` / ``fabric.load`` of the sharded model and optimizer resuming exactly."""

from __future__ import annotations

import os

import pytest
import torch

from flash.fabric import Fabric, seed_everything
from tests.fabric.helpers import loader, net, run_processes

FSDP_SCRIPT = """
import sys, torch
from flash.fabric import Fabric, seed_everything
from tests.fabric.test_fsdp import adam_run

out = sys.argv[1]
seed_everything(0)
fabric = Fabric(accelerator="cpu", devices=2, strategy="fsdp")
fabric.launch()
whole = adam_run(fabric, steps=6)  # uninterrupted
first = adam_run(fabric, steps=6, stop_at=3, path=f"{out}/mid.ckpt")  # saves after 3 steps
second = adam_run(fabric, steps=6, path=f"{out}/mid.ckpt", init_seed=9)  # another init: load must replace it
if fabric.is_global_zero:
    torch.save({"whole": whole, "first": first, "second": second, "world_size": fabric.world_size}, f"{out}/fsdp.pt")
"""


def adam_run(fabric, *, steps: int, stop_at: int | None = None, path: str | None = None, init_seed: int = 3) -> dict:
    """Adam on the tiny MLP, a global batch of 8; loads ``path`` first if it exists and ``stop_at`` is None, saves
    it after ``stop_at`` steps. Returns the full weights (gathered on every process: a collective)."""
    original = net(seed=init_seed)
    model, optimizer = fabric.setup(original, torch.optim.Adam(original.parameters(), lr=0.01))  # jointly
    data = fabric.setup_dataloaders(loader(32, batch_size=8 // fabric.world_size))  # global batch 8
    state = {"model": model, "optimizer": optimizer, "step": 0}
    if path and stop_at is None and os.path.exists(path):
        assert fabric.load(path, state) == {}
    losses, step = [], state["step"]
    while step < (stop_at or steps):
        for i, (x, y) in enumerate(data):
            if not losses and i < step % len(data):  # resumed mid-epoch: skip what was seen
                continue
            loss = torch.nn.functional.mse_loss(model(x), y)
            fabric.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(fabric.all_reduce(loss.detach()).item())
            step += 1
            if step == (stop_at or steps):
                break
    if stop_at is not None:
        fabric.save(path, {"model": model, "optimizer": optimizer, "step": step})
    return {"weights": fabric.strategy.model_state_dict(original),  # gathered: the full tensors
            "losses": losses, "step": step, "parameter_type": type(next(original.parameters())).__name__}


def _one_process(**kwargs) -> dict:
    seed_everything(0)
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.launch()
    return adam_run(fabric, **kwargs)


def _assert_close(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol)


@pytest.mark.slow
def test_fsdp_on_two_processes_equals_one_process_and_resumes_exactly(tmp_path):
    (tmp_path / "fsdp.py").write_text(FSDP_SCRIPT)
    run_processes(tmp_path / "fsdp.py", str(tmp_path))
    result = torch.load(tmp_path / "fsdp.pt", weights_only=True)
    whole, first, second = result["whole"], result["first"], result["second"]
    assert result["world_size"] == 2 and whole["parameter_type"] == "DTensor"  # really sharded
    reference = _one_process(steps=6)
    torch.testing.assert_close(whole["losses"], reference["losses"], rtol=0, atol=1e-5)
    _assert_close(whole["weights"], reference["weights"], atol=1e-5)
    # resumed from the FSDP checkpoint (full state dicts of the sharded model and Adam): the uninterrupted run
    assert (first["step"], second["step"]) == (3, 6) and first["losses"] + second["losses"] == whole["losses"]
    _assert_close(second["weights"], whole["weights"], atol=0)
    saved = torch.load(tmp_path / "mid.ckpt", weights_only=True)
    assert saved["step"] == 3 and saved["model"]["0.weight"].shape == (8, 4)  # whole tensors in the file


def test_the_resume_program_resumes_exactly_in_one_process(tmp_path):
    """The program the FSDP test runs, checked in one process (fast)."""
    whole = _one_process(steps=6)
    _one_process(steps=6, stop_at=3, path=str(tmp_path / "mid.ckpt"))
    second = _one_process(steps=6, path=str(tmp_path / "mid.ckpt"), init_seed=9)
    assert second["losses"] == whole["losses"][3:]
    _assert_close(second["weights"], whole["weights"], atol=0)
