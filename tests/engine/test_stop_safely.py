"""Stopping safely inside one process: signal handlers only while fit runs, max_time's resumable checkpoint,
debris of killed writes, a full disk, a DataLoader worker that dies, and the SLURM requeue decision."""

from __future__ import annotations

import errno
import os
import signal
import threading

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import flash
from flash.engine.checkpoint import save_checkpoint
from flash.engine.interrupt import TrainingInterrupted, slurm_requeue_command
from flash.errors import CheckpointError, DataError
from tests.engine.helpers import TinyRegressor, loader, quiet, same_weights

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class SignalSelf(flash.Callback):
    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def _fit(tmp_path, *, ckpt_path=None, **kwargs) -> tuple[flash.Trainer, TinyRegressor]:
    model = TinyRegressor()
    trainer = flash.Trainer(**quiet(tmp_path, **{"max_epochs": 2, **kwargs}))
    trainer.fit(model, loader(16, batch_size=4), ckpt_path=ckpt_path)
    return trainer, model


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return _fit(tmp_path_factory.mktemp("full"))[1].state_dict()


def test_handlers_are_installed_only_while_fit_runs(tmp_path):
    during = {}

    class Look(flash.Callback):
        def on_train_start(self, trainer, module):
            during.update({s: signal.getsignal(s) for s in SIGNALS})

    def mine(signum, frame):
        pass

    previous = {s: signal.signal(s, mine) for s in SIGNALS}
    try:
        _fit(tmp_path, callbacks=[Look()], max_epochs=1)
        assert all(during[s] is not mine and callable(during[s]) for s in SIGNALS)
        assert all(signal.getsignal(s) is mine for s in SIGNALS)  # a notebook's Ctrl-C works again
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def test_a_real_signal_stops_with_a_resumable_checkpoint_and_restores_handlers(tmp_path, uninterrupted,
                                                                                 monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(TrainingInterrupted) as stopped:
        _fit(tmp_path, callbacks=[SignalSelf(5, signal.SIGUSR1)])
    assert stopped.value.code == 128 + signal.SIGUSR1 and stopped.value.signal_name == "SIGUSR1"
    assert f"ckpt_path='{stopped.value.checkpoint}'" in str(stopped.value)
    assert signal.getsignal(signal.SIGUSR1) is before
    checkpoint = torch.load(stopped.value.checkpoint, weights_only=True)
    assert checkpoint["global_step"] == 5 and checkpoint["loops"]["batches_seen"] == 1  # mid-epoch
    _, model = _fit(tmp_path, ckpt_path=stopped.value.checkpoint)
    assert same_weights(model.state_dict(), uninterrupted)


def test_fit_in_a_thread_installs_no_handlers(tmp_path):
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_fit(tmp_path, max_epochs=1)[0].global_step))
    thread.start()
    thread.join(timeout=300)
    assert errors == [4]  # signal.signal would raise outside the main thread


def test_max_time_ends_with_the_same_resumable_checkpoint(tmp_path, uninterrupted):
    trainer, _ = _fit(tmp_path, max_time=0)  # runs out after the first optimizer step
    path = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    assert trainer.global_step == checkpoint["global_step"] == 1 and checkpoint["loops"]["batches_seen"] == 1
    _, model = _fit(tmp_path, ckpt_path=path)
    assert same_weights(model.state_dict(), uninterrupted)


def test_debris_of_a_killed_write_is_removed_and_never_loaded(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    debris = folder / ".last.ckpt.k3x_9q2a.tmp"
    debris.write_bytes(b"half a checkpoint")
    kept = folder / "notes.tmp"
    kept.write_text("not ours")
    trainer, _ = _fit(tmp_path, max_epochs=1, enable_checkpointing=True,
                      callbacks=[flash.ModelCheckpoint(folder, save_last=True)])
    assert not debris.exists() and kept.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "notes.tmp"]


def test_disk_full_keeps_the_previous_checkpoint_and_the_training_state(tmp_path, uninterrupted, monkeypatch):
    folder = tmp_path / "ckpts"
    real_fsync = os.fsync

    class FillDisk(flash.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if trainer.global_step == 2:  # runs before ModelCheckpoint's save of step 2
                def full(fd):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                monkeypatch.setattr(os, "fsync", full)

    every_step = flash.ModelCheckpoint(folder, every_n_train_steps=1, save_last=True)
    with pytest.raises(CheckpointError) as error:
        _fit(tmp_path, enable_checkpointing=True, callbacks=[FillDisk(), every_step])
    monkeypatch.setattr(os, "fsync", real_fsync)
    message = str(error.value)
    assert message.startswith("Disk full: cannot write checkpoint") and str(folder) in message
    assert "The previous 'last.ckpt' is intact" in message
    assert not list(folder.glob(".*.tmp"))
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == 1
    _, model = _fit(tmp_path, ckpt_path=folder / "last.ckpt")
    assert same_weights(model.state_dict(), uninterrupted)


def test_disk_full_on_a_new_file_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    with pytest.raises(CheckpointError, match=r"Disk full: cannot write checkpoint '.*new\.ckpt' \(No space left; "):
        save_checkpoint({"x": torch.zeros(2)}, tmp_path / "new.ckpt")
    assert list(tmp_path.iterdir()) == []


class DiesInWorker(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, index):
        if index == 5 and torch.utils.data.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
        return torch.randn(4), torch.randn(1)


@pytest.mark.parametrize("stage", ["training", "evaluation"])
def test_a_dead_dataloader_worker_is_named_never_a_hang(tmp_path, stage):
    dying = DataLoader(DiesInWorker(), batch_size=2, num_workers=1)
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    with pytest.raises(DataError) as error:
        if stage == "training":
            trainer.fit(TinyRegressor(), dying)
        else:
            trainer.validate(TinyRegressor(), dying)
    message = str(error.value)
    assert f"A DataLoader worker of the {stage} data died: worker 0 (pid " in message
    assert "killed by SIGKILL" in message and "num_workers=0" in message and message.endswith("num_workers=1")


@pytest.mark.parametrize("signum, env, expected", [
    (signal.SIGUSR1, {"SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "train"}, ["scontrol", "requeue", "7"]),
    (signal.SIGUSR1, {"SLURM_JOB_ID": "7", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "2"},
     ["scontrol", "requeue", "5_2"]),
    (signal.SIGUSR1, {"SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "bash"}, None),  # an interactive allocation
    (signal.SIGTERM, {"SLURM_JOB_ID": "7"}, None),  # SLURM's own cancel / time limit: no requeue
    (signal.SIGUSR1, {}, None),
])
def test_slurm_requeue_decision(signum, env, expected):
    assert slurm_requeue_command(signum, env) == expected
