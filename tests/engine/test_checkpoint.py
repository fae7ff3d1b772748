"""Checkpoint files: a plain versioned dict, read with weights_only=True, written atomically."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

import flash
from flash.engine import checkpoint as engine_checkpoint
from flash.engine.checkpoint import FORMAT_VERSION, VERSION_KEY, load_checkpoint, save_checkpoint
from flash.errors import CheckpointError
from tests.engine.helpers import TinyRegressor, loader, quiet, same_weights


class _Exploit:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def trained(tmp_path):
    model = TinyRegressor()
    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=1))
    trainer.fit(model, loader())
    return trainer, model


def test_checkpoint_is_a_plain_versioned_dict(trained, tmp_path):
    trainer, model = trained
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    checkpoint = torch.load(tmp_path / "model.ckpt", weights_only=True)
    assert type(checkpoint) is dict and checkpoint[VERSION_KEY] == FORMAT_VERSION
    assert checkpoint["global_step"] == 4 and checkpoint["epoch"] == 1  # after fit: the next epoch
    assert same_weights(checkpoint["state_dict"], model.state_dict())
    assert {"optimizer_states", "lr_schedulers", "rng_states", "loops", "callbacks", "precision"} <= checkpoint.keys()


def test_weights_only_checkpoint_cannot_resume(trained, tmp_path):
    trainer, model = trained
    trainer.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True)
    checkpoint = load_checkpoint(tmp_path / "weights.ckpt")
    assert "optimizer_states" not in checkpoint and same_weights(checkpoint["state_dict"], model.state_dict())
    with pytest.raises(CheckpointError, match="weights only"):
        flash.Trainer(**quiet(tmp_path, max_epochs=2)).fit(
            TinyRegressor(), loader(), ckpt_path=tmp_path / "weights.ckpt"
        )


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_malicious_pickle_is_refused_without_running_it(tmp_path, writer):
    marker, path = tmp_path / "pwned", tmp_path / "evil.ckpt"
    payload = {VERSION_KEY: 1, "state_dict": _Exploit(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="evil.ckpt"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(TinyRegressor(), loader(), ckpt_path=path)
    assert not marker.exists()


def test_future_format_version_names_both_versions(tmp_path):
    path = tmp_path / "future.ckpt"
    torch.save({VERSION_KEY: FORMAT_VERSION + 1, "state_dict": {}}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert f"format version {FORMAT_VERSION + 1}" in str(info.value) and f"up to {FORMAT_VERSION}" in str(info.value)


@pytest.mark.parametrize(
    "content, match",
    [
        ({"state_dict": {}}, "not a flash checkpoint"),
        ([1, 2], "not a flash checkpoint"),
        ({VERSION_KEY: "2"}, "format version"),
    ],
)
def test_foreign_or_odd_files_are_refused(tmp_path, content, match):
    torch.save(content, tmp_path / "x.ckpt")
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path / "x.ckpt")


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found: '.*nope.ckpt'"):
        load_checkpoint(tmp_path / "nope.ckpt")
    (tmp_path / "bad.ckpt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        load_checkpoint(tmp_path / "bad.ckpt")


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def crash(obj, handle, *args, **kwargs):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(engine_checkpoint.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == before
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_ckpt_path_last_without_checkpoint_is_clear(tmp_path):
    with pytest.raises(CheckpointError, match="last.ckpt"):
        flash.Trainer(**quiet(tmp_path, max_epochs=1)).fit(TinyRegressor(), loader(), ckpt_path="last")


def test_validate_and_predict_load_weights_from_a_checkpoint(trained, tmp_path):
    trainer, model = trained
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    fresh = TinyRegressor(seed=1)
    other = flash.Trainer(**quiet(tmp_path))
    metrics = other.validate(fresh, loader(seed=3), ckpt_path=tmp_path / "model.ckpt")
    assert same_weights(fresh.state_dict(), model.state_dict())
    assert metrics == trainer.validate(model, loader(seed=3))
    assert torch.equal(torch.cat(other.predict(fresh, loader())), torch.cat(trainer.predict(model, loader())))


def test_mid_epoch_metric_sums_from_older_checkpoints_still_load():
    """Epoch sums were float32 tensors in earlier checkpoints; now Python floats. Both resume."""
    from flash.engine.results import LoggedResults

    state = {
        "step_values": {"train_loss": 0.5},
        "sums": {"train_loss": torch.tensor(3.0)},
        "counts": {"train_loss": 4.0},
        "prog_bar": ["train_loss"],
    }
    results = LoggedResults.from_state(state)
    results.add("train_loss", torch.tensor(1.0), True, True, False, 2, False)
    assert results.epoch_means() == {"train_loss": pytest.approx((3.0 + 2.0) / 6.0)}
    assert isinstance(results.state_dict()["sums"]["train_loss"], float)
