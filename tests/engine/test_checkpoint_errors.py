"""Checkpoint load errors say what the file is not, name a refused global, never advise unsafe loading (issue 19)."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from flash.engine.checkpoint import VERSION_KEY, load_checkpoint
from flash.errors import CheckpointError


class _Exploit:
    def __reduce__(self):
        return os.system, ("true",)


def _message(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "weights_only=False" not in message and "\x1b" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # PyTorch's advice is not chained in
    return message


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_refused_pickle_names_the_global(tmp_path, writer):
    path = tmp_path / "evil.ckpt"
    payload = {VERSION_KEY: 1, "state_dict": _Exploit()}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    message = _message(path)
    assert "is not a safe checkpoint" in message and "'posix.system'" in message


def test_random_bytes_and_text_are_not_checkpoints(tmp_path):
    (tmp_path / "random.ckpt").write_bytes(os.urandom(2000))
    assert "is not a readable flash checkpoint" in _message(tmp_path / "random.ckpt")
    (tmp_path / "notes.ckpt").write_text("hello")
    assert "is not a readable flash checkpoint" in _message(tmp_path / "notes.ckpt")


def test_truncated_checkpoint_is_called_corrupt(tmp_path):
    torch.save({VERSION_KEY: 1, "state_dict": {"w": torch.zeros(64)}}, tmp_path / "ok.ckpt")
    data = (tmp_path / "ok.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    assert "is a corrupt or truncated checkpoint" in _message(tmp_path / "cut.ckpt")


def test_terminal_escapes_are_stripped(tmp_path):
    import pathlib

    torch.save({VERSION_KEY: 1, "where": pathlib.PurePosixPath("x")}, tmp_path / "odd\x1b[31mred.ckpt")
    message = _message(tmp_path / "odd\x1b[31mred.ckpt")  # PyTorch's text for this case holds bold escapes
    assert "oddred.ckpt" in message and "'pathlib.PurePosixPath'" in message
