"""Signals during fit, with real processes and real signals: SIGTERM stops after the step with a resumable
``last.ckpt`` and resuming ends bitwise where an uninterrupted run ends (one process and 2-process DDP);
a second Ctrl-C quits at once; SIGUSR1 under SLURM requeues the job (a fake ``scontrol`` on PATH)."""

from __future__ import annotations

import re
import signal
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

class SendSignals(flash.Callback):  # the process signals itself once, after optimizer step `step`, on `rank`
    def __init__(self, step, signals, rank):
        self.step, self.signals, self.rank, self.sent = step, signals, rank, False
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and trainer.global_rank == self.rank and not self.sent:
            self.sent = True
            for signum in self.signals:
                os.kill(os.getpid(), signum)

mode, root = sys.argv[1], sys.argv[2]
ddp = mode.startswith("ddp")
flash.seed_everything(7)
model = TinyRegressor(dropout=0.3, optimizer="adam")
signals = {"term": (8, [signal.SIGTERM], 0), "int2": (4, [signal.SIGINT, signal.SIGINT], 0),
           "usr1": (3, [signal.SIGUSR1], 0), "ddp_term": (3, [signal.SIGTERM], 1)}
callbacks = [SendSignals(*signals[mode])] if mode in signals else []
trainer = flash.Trainer(max_epochs=3, accelerator="cpu", default_root_dir=root, callbacks=callbacks,
                        val_check_interval=0.5, enable_progress_bar=False, enable_checkpointing=False,
                        **(dict(strategy="ddp", devices=2) if ddp else {}))
n = 16 if ddp else 22  # 2 (ddp: 2 x 4 samples) or 6 batches an epoch, the last one of 2 samples
train = DataLoader(dataset(n), batch_size=4, shuffle=True)
trainer.fit(model, train, DataLoader(dataset(10, seed=1), batch_size=4), ckpt_path=os.environ.get("CKPT"))
if trainer.global_rank == 0:
    torch.save({"state": model.state_dict(), "metrics": dict(trainer.callback_metrics),
                "step": trainer.global_step}, os.path.join(root, "final.pt"))
"""

FAKE_SCONTROL = '#!/bin/sh\necho "$@" >> "$SCONTROL_LOG"\n'


def _start(tmp_path, mode: str, root: str, **env: str) -> subprocess.Popen:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "scontrol").write_text(FAKE_SCONTROL)
    (bin_dir / "scontrol").chmod(0o755)
    full_env = {"PYTHONPATH": str(REPO), "PATH": str(bin_dir), "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, str(tmp_path / "train.py"), mode, str(tmp_path / root)], cwd=tmp_path,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(procs: dict[str, subprocess.Popen]) -> dict[str, tuple[int, str]]:
    outputs = {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}
    return {name: (proc.returncode, outputs[name]) for name, proc in procs.items()}


def _resume_path(output: str) -> str:
    match = re.search(r"Resume with: trainer\.fit\(\.\.\., ckpt_path='([^']+)'\)", output)
    assert match, output[-3000:]
    return match.group(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("interrupt")
    (tmp_path / "train.py").write_text(SCRIPT)
    slurm = dict(SLURM_JOB_ID="4242", SLURM_JOB_NAME="train", SCONTROL_LOG=str(tmp_path / "scontrol.log"))
    first = _finish({"full": _start(tmp_path, "full", "full"), "term": _start(tmp_path, "term", "term"),
                     "int2": _start(tmp_path, "int2", "int2"), "usr1": _start(tmp_path, "usr1", "usr1", **slurm),
                     "ddp_full": _start(tmp_path, "ddp_full", "ddp_full"),
                     "ddp_term": _start(tmp_path, "ddp_term", "ddp_term")})
    for name in ("full", "ddp_full"):
        assert first[name][0] == 0, first[name][1][-4000:]
    assert first["term"][0] == 143 and first["ddp_term"][0] == 143, (first["term"][1], first["ddp_term"][1])
    second = _finish({"resumed": _start(tmp_path, "full", "term", CKPT=_resume_path(first["term"][1])),
                      "ddp_resumed": _start(tmp_path, "ddp_full", "ddp_term",
                                            CKPT=_resume_path(first["ddp_term"][1]))})
    for code, output in second.values():
        assert code == 0, output[-4000:]
    return tmp_path, first


def _final(tmp_path, root: str) -> dict:
    return torch.load(tmp_path / root / "final.pt")


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_last_and_resume_is_bitwise_exact(runs):
    tmp_path, first = runs
    output = first["term"][1]
    assert "received SIGTERM" in output and "stopped by SIGTERM at epoch 1, batch 2 of 6, global step 8" in output
    checkpoint = torch.load(_resume_path(output), weights_only=True)
    assert checkpoint["global_step"] == 8 and checkpoint["loops"]["batches_seen"] == 2
    assert checkpoint["seed"] == 7
    full, resumed = _final(tmp_path, "full"), _final(tmp_path, "term")
    assert resumed["step"] == full["step"] == 18
    assert same_weights(resumed["state"], full["state"]) and resumed["metrics"] == full["metrics"]


@pytest.mark.slow
def test_sigterm_on_one_ddp_rank_stops_every_rank_at_the_same_step(runs):
    tmp_path, first = runs
    output = first["ddp_term"][1]
    assert "stopped by a signal to another process at epoch 1, batch 1 of 2, global step 3" in output  # rank 0
    checkpoint = torch.load(_resume_path(output), weights_only=True)
    assert checkpoint["global_step"] == 3 and checkpoint["world_size"] == 2
    assert len(checkpoint["rng_states"]) == 2  # one consistent checkpoint with every rank's state
    full, resumed = _final(tmp_path, "ddp_full"), _final(tmp_path, "ddp_term")
    assert resumed["step"] == full["step"] == 6
    assert same_weights(resumed["state"], full["state"]) and resumed["metrics"] == full["metrics"]


@pytest.mark.slow
def test_second_ctrl_c_quits_at_once_without_saving(runs):
    tmp_path, first = runs
    code, output = first["int2"]
    assert code in (-signal.SIGINT, 130), output[-3000:]  # Python ends an uncaught KeyboardInterrupt so
    assert "received SIGINT" in output and "KeyboardInterrupt" in output
    assert not list((tmp_path / "int2").rglob("*.ckpt"))


@pytest.mark.slow
def test_sigusr1_under_slurm_saves_and_requeues(runs):
    tmp_path, first = runs
    code, output = first["usr1"]
    assert code == 128 + signal.SIGUSR1, output[-3000:]
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert "Requeued SLURM job 4242" in output
    assert torch.load(_resume_path(output), weights_only=True)["global_step"] == 3
