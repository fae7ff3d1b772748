"""A tiny model, data and a hand-written loop shared by the fabric tests (and their subprocess scripts)."""

from __future__ import annotations

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
