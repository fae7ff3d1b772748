"""Sharded FSDP checkpoints (``FSDPStrategy(state_dict_type="sharded")``): a directory of one file per process,
each holding only its shards, written atomically, read with ``weights_only=True``, resuming exactly."""

from __future__ import annotations

import json

import pytest
import torch

from flash.errors import CheckpointError, ConfigurationError
from flash.fabric import Fabric, FSDPStrategy, Strategy, sharded
from flash.fabric import checkpoint as checkpoint_io
from tests.fabric.helpers import net, run_processes

SHARDED_SCRIPT = """
import glob, json, sys, torch
import flash.fabric.checkpoint as checkpoint_io
from flash.errors import CheckpointError
from flash.fabric import Fabric, FSDPStrategy, seed_everything
from tests.fabric.test_fsdp import adam_run

out = sys.argv[1]
seed_everything(0)
fabric = Fabric(accelerator="cpu", devices=2, strategy=FSDPStrategy(state_dict_type="sharded"))
fabric.launch()
whole = adam_run(fabric, steps=6)  # uninterrupted
adam_run(fabric, steps=6, stop_at=3, path=f"{out}/mid")  # a sharded directory after 3 steps
adam_run(fabric, steps=6, stop_at=3, path=f"{out}/mid")  # again: replaces the directory
second = adam_run(fabric, steps=6, path=f"{out}/mid", init_seed=9)  # another init: load must replace it
full = Fabric(accelerator="cpu", devices=2, strategy="fsdp")  # state_dict_type="full": joins the same processes
full.launch()
adam_run(full, steps=6, stop_at=3, path=f"{out}/mid.ckpt")
full_second = adam_run(full, steps=6, path=f"{out}/mid.ckpt", init_seed=9)
from_full = adam_run(fabric, steps=6, path=f"{out}/mid.ckpt", init_seed=9)  # a full file under sharded FSDP

# a write that fails on rank 1 leaves the previous directory as it was, and every rank raises
real_save = checkpoint_io.save_checkpoint
def failing_save(checkpoint, path):
    raise OSError(28, "No space left on device (simulated)")
if fabric.global_rank == 1:
    checkpoint_io.save_checkpoint = failing_save
errors = []
try:
    adam_run(fabric, steps=6, stop_at=5, path=f"{out}/mid")
except (OSError, CheckpointError) as err:
    errors.append(f"{type(err).__name__}: {err}")
checkpoint_io.save_checkpoint = real_save
after_crash = adam_run(fabric, steps=6, path=f"{out}/mid", init_seed=9)
debris = sorted(glob.glob(f"{out}/.mid*"))
if fabric.is_global_zero:
    torch.save({"whole": whole, "second": second, "full_second": full_second, "from_full": from_full,
                "after_crash": after_crash, "debris": debris}, f"{out}/result.pt")
for rank, text in enumerate(fabric.strategy.all_gather_object(errors)):
    if fabric.is_global_zero:
        json.dump({"errors": text}, open(f"{out}/errors-{rank}.json", "w"))
"""


@pytest.mark.slow
def test_sharded_checkpoints_on_two_processes_resume_exactly_and_hold_only_their_shards(tmp_path):
    (tmp_path / "sharded.py").write_text(SHARDED_SCRIPT)
    run_processes(tmp_path / "sharded.py", str(tmp_path))
    result = torch.load(tmp_path / "result.pt", weights_only=True)
    whole = result["whole"]
    assert whole["parameter_type"] == "DTensor"  # really sharded
    # (a) resumed from the sharded directory: the uninterrupted run, bitwise; and what the full-file path gives
    for resumed in (result["second"], result["full_second"], result["from_full"], result["after_crash"]):
        assert resumed["step"] == 6 and resumed["losses"] == whole["losses"][3:]
        for name, tensor in whole["weights"].items():
            assert torch.equal(resumed["weights"][name], tensor), name
    # (b, c) one file per rank, read with weights_only=True, holding that rank's shards only
    folder = tmp_path / "mid"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "rank-00000-of-00002.pt", "rank-00001-of-00002.pt"]
    meta = json.loads((folder / "meta.json").read_text())
    assert (meta["format"], meta["version"], meta["world_size"]) == ("flash-sharded-checkpoint", 1, 2)
    assert ["model", "0.weight"] in meta["sharded"] and ["optimizer", "state", "0.weight", "exp_avg"] in meta["sharded"]
    ranks = [torch.load(folder / f"rank-0000{r}-of-00002.pt", weights_only=True) for r in (0, 1)]
    full_numel = sum(t.numel() for t in net().state_dict().values())  # 49
    numels = [sum(t.numel() for t in part["model"].values()) for part in ranks]
    assert sum(numels) == full_numel and max(numels) < 0.6 * full_numel, numels
    assert all(part["model"]["0.weight"].shape == (4, 4) and part["step"] == 3 for part in ranks)
    assert all(type(t) is torch.Tensor for part in ranks for t in part["model"].values())
    assert ranks[0]["optimizer"]["state"]["0.weight"]["exp_avg"].shape == (4, 4)
    # (e) the failed save: rank 1 raised its own error, rank 0 a CheckpointError naming rank 1; nothing left over
    errors = [json.loads((tmp_path / f"errors-{r}.json").read_text())["errors"] for r in (0, 1)]
    assert len(errors[0]) == 1 and errors[0][0].startswith("CheckpointError") and "[1]" in errors[0][0]
    assert len(errors[1]) == 1 and "No space left on device (simulated)" in errors[1][0]
    assert result["debris"] == []


def _forge(folder, world_size: int = 2, **meta) -> None:
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"format": sharded.FORMAT, "version": 1, "world_size": world_size,
                                                  "sharded": [], **meta}))


def test_a_directory_saved_by_another_number_of_processes_says_both_and_the_fix(tmp_path):
    _forge(tmp_path / "ckpt", world_size=2)
    with pytest.raises(CheckpointError, match="saved sharded by 2 processes, but 1 are loading") as err:
        sharded.read(tmp_path / "ckpt", FSDPStrategy(state_dict_type="sharded"))  # one process
    assert str(tmp_path / "ckpt") in str(err.value) and "state_dict_type='full'" in str(err.value)


def test_a_sharded_directory_loaded_without_fsdp_says_how_to_convert(tmp_path):
    _forge(tmp_path / "ckpt", world_size=1)
    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.launch()
    with pytest.raises(CheckpointError, match="sharded FSDP checkpoint") as err:
        fabric.load(tmp_path / "ckpt", {"model": net()})
    assert "FSDPStrategy(state_dict_type='full')" in str(err.value) and "strategy='single'" in str(err.value)


def test_a_missing_rank_file_or_a_bad_meta_json_is_a_clear_error(tmp_path):
    strategy = FSDPStrategy(state_dict_type="sharded")
    _forge(tmp_path / "no_rank", world_size=1)
    with pytest.raises(CheckpointError, match="has no 'rank-00000-of-00001.pt'"):
        sharded.read(tmp_path / "no_rank", strategy)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="without 'meta.json'"):
        sharded.read(tmp_path / "empty", strategy)
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        sharded.read(tmp_path / "garbled", strategy)
    _forge(tmp_path / "foreign", format="something-else")
    with pytest.raises(CheckpointError, match="does not describe a flash sharded checkpoint"):
        sharded.read(tmp_path / "foreign", strategy)
    _forge(tmp_path / "future", version=99)
    with pytest.raises(CheckpointError, match="format version 99"):
        sharded.read(tmp_path / "future", strategy)


def test_a_wrong_state_dict_type_names_it_and_the_choices():
    with pytest.raises(ConfigurationError, match=r"Invalid state_dict_type='shard'\. Did you mean 'sharded'\?") as err:
        FSDPStrategy(state_dict_type="shard")  # type: ignore[arg-type]
    assert "'full', 'sharded'" in str(err.value)
    assert FSDPStrategy().state_dict_type == "full"  # flash's default: single-file checkpoints
    fabric = Fabric(accelerator="cpu", devices=2, strategy=FSDPStrategy(state_dict_type="sharded"))
    assert fabric.strategy.state_dict_type == "sharded"  # the object is used as it is



def test_a_save_replaces_the_previous_directory_whole_or_not_at_all(tmp_path, monkeypatch):
    """The directory protocol on one process (no DTensors): replace, survive a failed write, refuse a user's folder."""
    strategy, reader = Strategy(), FSDPStrategy(state_dict_type="sharded")
    path = tmp_path / "ckpt"
    sharded.save_sharded({"step": 1, "w": torch.zeros(3)}, path, strategy)
    sharded.save_sharded({"step": 2, "w": torch.ones(3)}, path, strategy)  # replaces it
    checkpoint, is_sharded = sharded.read(path, reader)
    assert is_sharded and checkpoint["step"] == 2 and torch.equal(checkpoint["w"], torch.ones(3))

    def killed(checkpoint, path):
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(checkpoint_io, "save_checkpoint", killed)
    with pytest.raises(RuntimeError, match="killed mid-write"):
        sharded.save_sharded({"step": 3, "w": torch.full((3,), 3.0)}, path, strategy)
    monkeypatch.undo()
    assert sharded.read(path, reader)[0]["step"] == 2 and sorted(tmp_path.iterdir()) == [path]  # no debris

    (tmp_path / "full.ckpt").write_bytes(b"an earlier full checkpoint")
    sharded.save_sharded({"step": 4}, tmp_path / "full.ckpt", strategy)  # a file is replaced too
    assert sharded.read(tmp_path / "full.ckpt", reader)[0] == {"step": 4}

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="holding other files"):
        sharded.save_sharded({"step": 5}, tmp_path / "mine", strategy)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
