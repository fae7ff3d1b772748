"""Tiny models, data and a script runner shared by the engine tests (and their subprocess scripts)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

import flash

REPO = Path(__file__).resolve().parents[2]


class TinyRegressor(flash.TrainingModule):
    """4 -> 8 -> 1 with optional dropout; logs train_loss (per step), val_loss and test_loss (per epoch)."""

    def __init__(self, *, dropout: float = 0.0, lr: float = 0.1, optimizer: str = "sgd", seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(dropout),
                                       torch.nn.Linear(8, 1))
        self.lr = lr
        self.optimizer = optimizer

    def forward(self, x):
        return self.net(x)

    def loss(self, batch):
        x, y = batch[0], batch[1]
        return torch.nn.functional.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.loss(batch))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self.loss(batch))

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        if self.optimizer == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def dataset(n: int = 16, *, seed: int = 0, with_index: bool = False) -> TensorDataset:
    """``n`` samples of (x: 4 floats, y: 1 float[, index])."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)
    return TensorDataset(x, y, torch.arange(n)) if with_index else TensorDataset(x, y)


def loader(n: int = 16, *, batch_size: int = 4, shuffle: bool = False, seed: int = 0, with_index: bool = False):
    return DataLoader(dataset(n, seed=seed, with_index=with_index), batch_size=batch_size, shuffle=shuffle)


def quiet(tmp_path, **kwargs) -> dict:
    """Trainer arguments for a fast, silent CPU run that writes nothing unless asked."""
    base = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                num_sanity_val_steps=0, default_root_dir=tmp_path)
    return {**base, **kwargs}


def run_script(path: Path, source: str, *args: str, timeout: float = 120, command: list[str] | None = None,
               expect_rc: int | None = 0) -> subprocess.CompletedProcess:
    """Write ``source`` to ``path`` and run it with this Python (repo importable); check the exit code."""
    path.write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "FLASH_LAUNCHED", "SLURM_NTASKS"):
        env.pop(name, None)
    command = command or [sys.executable, str(path)]
    result = subprocess.run([*command, *args], cwd=path.parent, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if expect_rc is not None and result.returncode != expect_rc:
        raise AssertionError(f"{path.name} {' '.join(args)} exited with {result.returncode} "
                             f"(expected {expect_rc}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
