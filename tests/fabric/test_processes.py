"""Fabric with several processes on CPU (gloo), and a Fabric program killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from flash.fabric import Fabric
from tests.engine.helpers import REPO, run_script
from tests.fabric.helpers import loader, net, spawned_failure, spawned_run, train

DDP_SCRIPT = """
import sys, torch
from flash.fabric import Fabric, seed_everything
from tests.fabric.helpers import loader, net, train

seed_everything(0)
fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp")
fabric.launch()
original = net(seed=3)
model, optimizer = fabric.setup(original, torch.optim.SGD(original.parameters(), lr=0.1))
train(fabric, model, optimizer, fabric.setup_dataloaders(loader(32, batch_size=4)), steps=4)  # global batch 8
gathered = fabric.all_gather(torch.tensor([float(fabric.global_rank)]))
total = fabric.all_reduce(torch.tensor(fabric.global_rank + 1.0), reduce_op="sum")
mean = fabric.all_reduce(torch.tensor(fabric.global_rank + 1.0))
shared = fabric.broadcast(fabric.global_rank, src=1)
if fabric.is_global_zero:
    torch.save({"state": original.state_dict(), "gathered": gathered, "total": total, "mean": mean,
                "shared": shared, "world_size": fabric.world_size}, sys.argv[1] + "/ddp.pt")
"""


def _one_process_reference(steps: int = 4) -> dict:
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.launch()
    original = net(seed=3)
    model, optimizer = fabric.setup(original, torch.optim.SGD(original.parameters(), lr=0.1))
    train(fabric, model, optimizer, fabric.setup_dataloaders(loader(32, batch_size=8)), steps=steps)
    return original.state_dict()


def _assert_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-5)


@pytest.mark.slow
def test_ddp_on_two_processes_equals_one_process_on_the_same_global_batch(tmp_path):
    run_script(tmp_path / "ddp.py", DDP_SCRIPT, str(tmp_path), timeout=300)
    result = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert result["world_size"] == 2 and result["shared"] == 1
    assert result["gathered"].flatten().tolist() == [0.0, 1.0]
    assert result["total"].item() == 3.0 and result["mean"].item() == 1.5
    _assert_close(result["state"], _one_process_reference())


@pytest.mark.slow
def test_ddp_spawn_runs_the_function_in_new_processes():
    fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp_spawn")
    result = fabric.launch(spawned_run, 4)
    assert result["world_size"] == 2 and result["rank"] == 0
    _assert_close(result["state"], _one_process_reference())


@pytest.mark.slow
@pytest.mark.parametrize("while_rank_0_waits", [False, True])
def test_ddp_spawn_reports_the_exception_of_the_worker_that_failed_first(while_rank_0_waits):
    fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp_spawn")
    with pytest.raises(torch.multiprocessing.ProcessRaisedException, match="rank 1 found a bad batch") as raised:
        fabric.launch(spawned_failure, while_rank_0_waits=while_rank_0_waits)
    assert raised.value.error_index == 1


KILLED_SCRIPT = """
import sys, torch
from flash.fabric import Fabric, seed_everything
from tests.fabric.helpers import loader, net, train

out = sys.argv[1]
seed_everything(0)
fabric = Fabric(accelerator="cpu")
fabric.launch()
original = net(seed=4)
model, optimizer = fabric.setup(original, torch.optim.Adam(original.parameters(), lr=0.01))
data = fabric.setup_dataloaders(loader())
step = 0
while True:  # until killed
    step = train(fabric, model, optimizer, data, steps=1, start=step)
    torch.save({"model": original.state_dict(), "optimizer": optimizer.state_dict()}, f"{out}/expected_{step}.pt")
    fabric.save(f"{out}/state.ckpt", {"model": model, "optimizer": optimizer, "step": step})
    print(step, flush=True)
"""


@pytest.mark.slow
def test_load_restores_the_state_of_a_fabric_program_killed_with_sigkill(tmp_path):
    (tmp_path / "killed.py").write_text(KILLED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(tmp_path / "killed.py"), str(tmp_path)], env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if int(line) >= 5:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    fabric = Fabric(accelerator="cpu")
    fabric.launch()
    original = net(seed=0)
    model, optimizer = fabric.setup(original, torch.optim.Adam(original.parameters(), lr=0.01))
    state = {"model": model, "optimizer": optimizer, "step": 0}
    assert fabric.load(tmp_path / "state.ckpt", state) == {}
    assert state["step"] >= 5
    expected = torch.load(tmp_path / f"expected_{state['step']}.pt", weights_only=True)
    assert all(torch.equal(v, expected["model"][k]) for k, v in original.state_dict().items())
    saved_state = expected["optimizer"]["state"]
    assert all(torch.equal(optimizer.state_dict()["state"][i]["exp_avg"], saved_state[i]["exp_avg"])
               for i in saved_state)
    train(fabric, model, optimizer, fabric.setup_dataloaders(loader()), steps=1, start=state["step"])  # it goes on


FAILED_SAVE_SCRIPT = """
import json, sys, torch
from pathlib import Path
from flash.fabric import Fabric

fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp")
fabric.launch()
taken = Path(sys.argv[1]) / "taken"
(taken / "inside").mkdir(parents=True, exist_ok=True)  # a non-empty folder where the file should go
try:
    fabric.save(taken, {"step": 3, "weights": torch.zeros(2)})
    outcome = "saved"
except Exception as err:
    outcome = f"{type(err).__name__}: {err}"
Path(sys.argv[1], f"rank{fabric.global_rank}.json").write_text(json.dumps(outcome))
fabric.barrier()  # both processes are still in step: nobody was left waiting for the other
"""


@pytest.mark.slow
def test_a_save_that_fails_on_rank_zero_raises_on_every_process_instead_of_hanging(tmp_path):
    import json

    run_script(tmp_path / "save.py", FAILED_SAVE_SCRIPT, str(tmp_path), timeout=240)
    outcomes = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert not outcomes[0].startswith(("saved", "CheckpointError: Rank 0")), outcomes  # rank 0: the OS's own error
    assert outcomes[1].startswith("CheckpointError: Rank 0 failed to write the checkpoint") and "taken" in outcomes[1]
    assert (tmp_path / "taken" / "inside").is_dir()  # the folder it refused to overwrite is untouched
