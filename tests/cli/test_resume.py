"""`flash train` is repeatable (seeded by default) and survives SIGTERM: `--resume` continues the stopped run in
its own folder and ends bitwise where an uninterrupted run ends."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys

import pytest
import torch

from flash.cli.resume import choose_seed
from flash.errors import ConfigurationError

from .conftest import TINY, run_flash, write_class_folders

ARGS = ["train", "image_classification", "--data", "data", *TINY, "--trainer.max_epochs", "3",
        "--data.batch_size", "4", "--data.transform_kwargs", "{image_size: [32, 32]}", "--checkpoint", "model.pt"]

# `flash train` with a callback that sends this process SIGTERM after optimizer step 4 (epoch 1 of 3 batches each)
SIGTERM_AFTER_STEP_4 = """
import functools, os, signal, sys
import flash
from flash.cli import main

class Term(flash.Callback):
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

@functools.wraps(flash.Trainer.__init__)  # the CLI checks --trainer.* flags against this signature
def init(self, **kwargs):
    init.__wrapped__(self, **{**kwargs, "callbacks": [Term()]})

flash.Trainer.__init__ = init
sys.exit(main())
"""


def _start(cwd, *args: str, command=(sys.executable, "-m", "flash")) -> subprocess.Popen:
    write_class_folders(cwd / "data")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*command, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_resume")
    for name in ("a", "b", "stopped"):
        (root / name).mkdir()
    (root / "stopped" / "term.py").write_text(SIGTERM_AFTER_STEP_4)
    procs = {"a": _start(root / "a", *ARGS), "b": _start(root / "b", *ARGS, "--seed", "0"),
             "stopped": _start(root / "stopped", *ARGS, command=(sys.executable, "term.py"))}
    results = {name: (*proc.communicate(timeout=900), proc.returncode) for name, proc in procs.items()}
    for name in ("a", "b"):
        assert results[name][2] == 0, results[name][1][-4000:]
    out, err, code = results["stopped"]
    assert code == 128 + signal.SIGTERM, err[-4000:]
    command = re.search(r"^Resume with: (flash train .*)$", err, re.MULTILINE)
    assert command, err[-4000:]
    resumed = run_flash(*shlex.split(command.group(1))[1:], cwd=root / "stopped")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return root, err, resumed


@pytest.mark.slow
def test_two_identical_runs_end_bitwise_equal(runs):
    root, _, _ = runs
    a, b = _weights(root / "a" / "model.pt"), _weights(root / "b" / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert "seed: 0" in (root / "a" / "flash_logs" / "version_0" / "hparams.yaml").read_text()
    assert torch.load(root / "a" / "model.pt", weights_only=True)["seed"] == 0


@pytest.mark.slow
def test_sigterm_then_resume_equals_an_uninterrupted_run_in_the_same_folder(runs):
    root, stop_message, resumed = runs
    run = root / "stopped" / "flash_logs" / "version_0"
    assert "flash: training stopped by SIGTERM at epoch 1, batch 1 of 3, global step 4." in stop_message
    assert f"--resume {run / 'checkpoints' / 'last.ckpt'}" in stop_message
    assert "Resume: continuing from" in resumed.stdout and "Seed: 0" in resumed.stdout
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]  # no new version_1
    a, b = _weights(root / "a" / "model.pt"), _weights(root / "stopped" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [int(line.split(",")[1]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    full = [int(line.split(",")[1]) for line in
            (root / "a" / "flash_logs" / "version_0" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == full  # the stopped part's rows, then the resumed part's, appended


def test_seed_flag_values():
    assert choose_seed(None, recorded=None) == 0 and choose_seed(None, recorded=5) == 5
    assert choose_seed("3", recorded=5) == 3 and 0 <= choose_seed("random", recorded=None) < 2**31
    with pytest.raises(ConfigurationError, match="--seed takes an integer or 'random'. Received: --seed abc"):
        choose_seed("abc", recorded=None)


def test_resume_with_nothing_to_resume_is_a_clear_error(tmp_path):
    result = run_flash("train", "image_classification", "--resume", cwd=tmp_path)
    assert result.returncode == 1
    assert "--resume found no run to continue" in result.stderr and "--resume PATH" in result.stderr
