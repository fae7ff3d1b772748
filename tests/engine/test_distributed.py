"""DDP and FSDP on CPU (gloo) with 2 processes match one process with the same global batch."""

from __future__ import annotations

import sys

import pytest
import torch
from torch.utils.data import DataLoader

import flash
from tests.engine.helpers import TinyRegressor, dataset, quiet, run_script

SCRIPT = """
import sys
import torch, flash
from torch.utils.data import DataLoader
from tests.engine.helpers import TinyRegressor, dataset

class Record(flash.Callback):
    def __init__(self):
        self.seen = {}
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.setdefault(trainer.current_epoch, []).append(batch[2].tolist())

strategy, out = sys.argv[1], sys.argv[2]
flash.seed_everything(3)
model, record = TinyRegressor(), Record()
top2 = flash.ModelCheckpoint(monitor="train_loss", save_top_k=2)  # a per-process value: rank 0's must decide
trainer = flash.Trainer(strategy=strategy, devices=2, accelerator="cpu", max_epochs=3, logger=False,
                        callbacks=[record, top2], enable_progress_bar=False, num_sanity_val_steps=0,
                        default_root_dir=out)
val = DataLoader(dataset(11, seed=1), batch_size=3)  # 11 samples: uneven, unpadded shards
trainer.fit(model, DataLoader(dataset(16, with_index=True), batch_size=4, shuffle=True), val)
fit_val = trainer.callback_metrics["val_loss"]
metrics = trainer.validate(model, val)
predictions = trainer.predict(model, val)
trainer.save_checkpoint(f"{out}/final.ckpt")  # collective: every rank calls it, none hangs
torch.save({"seen": record.seen, "fit_val": fit_val, "val": metrics, "predictions": predictions,
            "world_size": trainer.world_size, "source": trainer.strategy.env.source, "step": trainer.global_step,
            "best_k": sorted(top2.best_k_models)}, f"{out}/rank{trainer.global_rank}.pt")
"""


def _single_process_reference(tmp_path, monkeypatch):
    """The same run in this process: one device, batch 8 = 2 processes x 4."""
    monkeypatch.setenv("FLASH_GLOBAL_SEED", "3")  # what seed_everything(3) sets for the samplers
    model, seen = TinyRegressor(), {}

    class Record(flash.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.setdefault(trainer.current_epoch, []).append(batch[2].tolist())

    trainer = flash.Trainer(**quiet(tmp_path, max_epochs=3, callbacks=[Record()]))
    val = DataLoader(dataset(11, seed=1), batch_size=3)
    trainer.fit(model, DataLoader(dataset(16, with_index=True), batch_size=8, shuffle=True), val)
    return {
        "state": model.state_dict(),
        "seen": seen,
        "fit_val": trainer.callback_metrics["val_loss"],
        "val": trainer.validate(model, val),
        "predictions": trainer.predict(model, val),
        "step": trainer.global_step,
    }


def _check_against_single(out, single) -> tuple[dict, dict]:
    rank0, rank1 = (torch.load(out / f"rank{r}.pt") for r in (0, 1))
    state = torch.load(out / "final.ckpt", weights_only=True)["state_dict"]
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert rank0["step"] == single["step"] == 6
    for name, tensor in single["state"].items():
        assert torch.allclose(state[name], tensor, atol=1e-6), name
    assert rank0["fit_val"] == pytest.approx(single["fit_val"], rel=1e-6)
    assert rank0["val"][0]["val_loss"] == pytest.approx(single["val"][0]["val_loss"], rel=1e-6)
    assert [p.shape[0] for p in rank0["predictions"]] == [3, 3, 3, 2]  # dataset order, original batches
    assert torch.allclose(torch.cat(rank0["predictions"]), torch.cat(single["predictions"]), atol=1e-6)
    assert rank0["best_k"] == rank1["best_k"] and len(rank0["best_k"]) == 2
    return rank0, rank1


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ddp")
    run_script(tmp_path / "train.py", SCRIPT, "ddp", str(tmp_path), timeout=240)
    return tmp_path


@pytest.mark.slow
def test_ddp_matches_single_process(ddp_run, tmp_path, monkeypatch):
    rank0, _ = _check_against_single(ddp_run, _single_process_reference(tmp_path, monkeypatch))
    assert rank0["source"] == "flash"  # flash launched rank 1 itself


@pytest.mark.slow
def test_ddp_shards_reshuffle_per_epoch_and_cover_the_dataset(ddp_run, tmp_path, monkeypatch):
    rank0, rank1 = (torch.load(ddp_run / f"rank{r}.pt") for r in (0, 1))
    single = _single_process_reference(tmp_path, monkeypatch)
    for epoch in range(3):
        for step, (a, b) in enumerate(zip(rank0["seen"][epoch], rank1["seen"][epoch])):
            assert not set(a) & set(b)
            assert set(a) | set(b) == set(single["seen"][epoch][step])  # the same global batch
        assert sorted(i for batch in rank0["seen"][epoch] + rank1["seen"][epoch] for i in batch) == list(range(16))
    assert rank0["seen"][0] != rank0["seen"][1] != rank0["seen"][2]


@pytest.mark.slow
def test_fsdp_under_torchrun_matches_single_process(tmp_path, monkeypatch):
    """FSDP2 works on CPU with gloo; torchrun's environment is adopted instead of launching."""
    out = tmp_path / "fsdp"
    out.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run_script(out / "train.py", SCRIPT, "fsdp", str(out), command=command + [str(out / "train.py")], timeout=300)
    rank0, _ = _check_against_single(out, _single_process_reference(tmp_path, monkeypatch))
    assert rank0["source"] == "torchrun"
