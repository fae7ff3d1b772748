"""Exact resume: a run killed with SIGKILL and resumed from its checkpoint ends bit-for-bit where an
uninterrupted run ends (weights, metrics, learning rate), with dropout and shuffling in play."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.engine.helpers import REPO, same_weights

SCRIPT = """
import os, signal, sys
import torch, flash
from torch.utils.data import DataLoader
from tests.engine.helpers import TinyRegressor, dataset

class Model(TinyRegressor):
    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.05)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}

class Kill(flash.Callback):
    def __init__(self, step):
        self.step = step
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)

class StartStep(flash.Callback):
    def on_train_start(self, trainer, module):
        self.step = trainer.global_step

def fit(root, out, *, extra=(), ckpt_path=None):
    flash.seed_everything(7)
    model, start = Model(dropout=0.3), StartStep()
    callbacks = [flash.ModelCheckpoint(every_n_train_steps=1, save_last=True), start, *extra]
    trainer = flash.Trainer(max_epochs=3, accelerator="cpu", default_root_dir=root, callbacks=callbacks,
                            val_check_interval=0.5, enable_progress_bar=False)
    train = DataLoader(dataset(22), batch_size=4, shuffle=True)  # 6 batches, the last one of 2 samples
    val = DataLoader(dataset(10, seed=1), batch_size=4)
    trainer.fit(model, train, val, ckpt_path=ckpt_path)
    torch.save({"state": model.state_dict(), "metrics": dict(trainer.callback_metrics), "step": trainer.global_step,
                "lr": trainer.optimizers[0].param_groups[0]["lr"], "start_step": start.step}, out)

mode, root = sys.argv[1], sys.argv[2]
if mode == "full":  # the uninterrupted run, keeping every step's and every epoch's checkpoint
    every_step = flash.ModelCheckpoint(os.path.join(root, "steps"), every_n_train_steps=1, save_top_k=-1)
    every_epoch = flash.ModelCheckpoint(os.path.join(root, "epochs"), every_n_epochs=1, save_top_k=-1)
    fit(root, "full.pt", extra=[every_step, every_epoch])
    # saved after epoch 0's last batch, before its validation; and at the end of epoch 0
    fit(root + "_b", "step6.pt", ckpt_path=os.path.join(root, "steps", "epoch=0-step=6.ckpt"))
    fit(root + "_c", "epoch0.pt", ckpt_path=os.path.join(root, "epochs", "epoch=0-step=6.ckpt"))
elif mode == "kill":
    fit(root, "killed.pt", extra=[Kill(9)])
else:
    fit(root, "resumed.pt", ckpt_path="last")
"""


def _run_all(tmp_path, runs: list[tuple[str, str]], *, killed=()) -> None:
    """Run the script once per (mode, root folder), all at once; the ``killed`` ones must die by SIGKILL."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {"PYTHONPATH": str(REPO), "PATH": ""}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), mode, str(tmp_path / root)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for mode, root in runs
    ]
    for (mode, _), proc in zip(runs, procs):
        output, _ = proc.communicate(timeout=180)
        expected = -9 if mode in killed else 0
        assert proc.returncode == expected, f"{mode} exited with {proc.returncode}:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("resume")
    _run_all(tmp_path, [("full", "full"), ("kill", "killed")], killed={"kill"})
    assert len(list((tmp_path / "full" / "steps").glob("*.ckpt"))) == 18
    assert len(list((tmp_path / "full" / "epochs").glob("*.ckpt"))) == 3
    _run_all(tmp_path, [("resume", "killed")])
    return {name: torch.load(tmp_path / f"{name}.pt") for name in ("full", "resumed", "step6", "epoch0")}


@pytest.mark.slow
@pytest.mark.parametrize("name, start_step", [("resumed", 9), ("step6", 6), ("epoch0", 6)])
def test_resume_is_bitwise_exact(runs, name, start_step):
    full, resumed = runs["full"], runs[name]
    assert resumed["start_step"] == start_step  # it really resumed rather than retrained
    assert full["start_step"] == 0 and resumed["step"] == full["step"] == 18
    assert same_weights(resumed["state"], full["state"])
    assert resumed["metrics"] == full["metrics"]  # val_loss, train_loss and the epoch mean train_loss_epoch
    assert resumed["lr"] == full["lr"] < 0.05  # the plateau scheduler saw the same validations


@pytest.mark.slow
def test_killed_run_left_a_readable_last_checkpoint(runs, tmp_path_factory):
    path = next(tmp_path_factory.getbasetemp().glob("resume*/killed/flash_logs/version_0/**/last.ckpt"))
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["global_step"] == 9 and checkpoint["loops"]["batches_seen"] == 3
    assert checkpoint["loops"]["val_pending"] is True  # killed between batch 3 and its validation
