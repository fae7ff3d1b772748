"""A tiny model, data and a hand-written loop shared by the fabric tests (and their subprocess scripts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset


def data(n: int = 32, *, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g))


def net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def train(fabric, model, optimizer, loader, *, steps: int, start: int = 0) -> int:
    """``steps`` optimizer steps over ``loader`` (cycled), counting from ``start``; returns the next step."""
    step = start
    while step < start + steps:
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(model(x), y)
            fabric.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if step == start + steps:
                break
    return step


def loader(n: int = 32, *, batch_size: int = 8) -> DataLoader:
    return DataLoader(data(n), batch_size=batch_size)


def spawned_run(fabric, steps: int) -> dict:
    """What ``fabric.launch(spawned_run, steps)`` runs in each process (module level: spawn pickles it)."""
    original = net(seed=3)
    model, optimizer = fabric.setup(original, torch.optim.SGD(original.parameters(), lr=0.1))
    train(fabric, model, optimizer, fabric.setup_dataloaders(loader(32, batch_size=4)), steps=steps)
    return {"state": original.state_dict(), "world_size": fabric.world_size, "rank": fabric.global_rank}


def spawned_failure(fabric, *, while_rank_0_waits: bool) -> None:
    """Rank 1 raises, after a collective or while rank 0 waits for it in one (``fabric.launch(spawned_failure)``)."""
    if not while_rank_0_waits:
        fabric.all_reduce(torch.tensor(1.0))
    if fabric.global_rank == 1:
        raise ValueError("rank 1 found a bad batch")
    if while_rank_0_waits:
        fabric.all_reduce(torch.tensor(1.0))  # fails once rank 1 has gone: "Connection closed by peer"


def run_processes(script: Path, *args: str, timeout: float = 300) -> None:
    """Run ``script`` in a session of its own; on a timeout kill every process in it (the relaunched ranks
    too, which would otherwise wait in a collective for a rank 0 that is gone)."""
    from tests.engine.helpers import REPO

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
                 "FLASH_LAUNCHED", "SLURM_NTASKS"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, str(script), *args], cwd=script.parent, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"{script.name} {' '.join(args)} ran over {timeout} s:\n{output[-4000:]}") from None
    assert process.returncode == 0, f"{script.name} {' '.join(args)} exited {process.returncode}:\n{output[-4000:]}"
