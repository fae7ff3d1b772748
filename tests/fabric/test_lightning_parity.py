"""Lightning Fabric users' programs (tests/fabric/programs.py) give the same numbers on flash.fabric as on
lightning.fabric, with only the import changed: same losses, weights, logged values and callback calls.

Single process on CPU here; DDP with two processes in :func:`test_ddp_programs_match_lightning`. The math is
the same op for op, so the results are compared bitwise (``torch.equal`` / ``==``) wherever they can be.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest
import torch

from tests.fabric import programs
from tests.fabric.helpers import run_processes

# skipped cleanly without Lightning (the bench / test extras bring it); imported by the tests, not at collection
pytestmark = pytest.mark.skipif(importlib.util.find_spec("lightning") is None, reason="lightning is not installed")


@pytest.fixture(autouse=True)
def _own_environment():
    """Both libraries' ``seed_everything`` record the seed in os.environ: leave it as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _both(program, *args, **kwargs) -> tuple[dict, dict]:
    return (program(programs.library("lightning"), *args, **kwargs),
            program(programs.library("flash"), *args, **kwargs))


def _assert_equal_states(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key}: max difference {(a[key] - b[key]).abs().max().item()}"


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_image_classifier(precision):
    lightning, flash = _both(programs.image_classifier, precision=precision)
    assert flash["losses"] == lightning["losses"] and len(flash["losses"]) == 12
    assert flash["norms"] == lightning["norms"] and max(flash["norms"]) > 1.0  # clipping did something
    assert (flash["val_loss"], flash["accuracy"]) == (lightning["val_loss"], lightning["accuracy"])
    _assert_equal_states(flash["state"], lightning["state"])
    assert flash["losses"][-1] < flash["losses"][0]  # it learns


def test_gradient_accumulation_with_no_backward_sync():
    lightning, flash = _both(programs.accumulation)
    assert flash["losses"] == lightning["losses"] and len(flash["losses"]) == 16
    _assert_equal_states(flash["state"], lightning["state"])


def test_kfold_with_a_fresh_model_per_fold_from_init_module():
    lightning, flash = _both(programs.kfold)
    assert len(flash["folds"]) == 3 and flash["mean_accuracy"] == lightning["mean_accuracy"]
    for ours, theirs in zip(flash["folds"], lightning["folds"]):
        assert (ours["val_loss"], ours["accuracy"]) == (theirs["val_loss"], theirs["accuracy"])
        _assert_equal_states(ours["state"], theirs["state"])
    assert not torch.equal(flash["folds"][0]["state"]["0.weight"], flash["folds"][1]["state"]["0.weight"])


def _rows(path: str) -> list[dict[str, float]]:
    """The CSV's rows as {column: number}, empty cells left out (flash adds an empty 'epoch' column)."""
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def test_callbacks_via_call_and_logging_to_a_csv_logger(tmp_path):
    if not hasattr(programs.library("lightning").Fabric, "_filter_kwargs_for_callback"):
        pytest.skip("this (older) Lightning passes every keyword of fabric.call to every callback; newer ones filter")
    lightning, flash = (programs.callbacks_and_logging(programs.library(name), tmp_path / name)
                        for name in ("lightning", "flash"))
    assert flash["calls"] == lightning["calls"]
    assert flash["calls"][0] == ("on_train_start",) and flash["calls"][-1] == ("on_train_epoch_end", 1, ["model"])
    batches = [call[1] for call in flash["calls"] if call[0] == "on_train_batch_end"]
    assert batches == [0, 1, 2, 0, 1, 2]  # EarlyStop ends each epoch after 3 batches
    ours, theirs = _rows(flash["metrics_file"]), _rows(lightning["metrics_file"])
    assert ours == theirs
    # steps: one per log call when none is given, counting the calls with an explicit step (Lightning's CSV)
    assert [row["step"] for row in ours] == [0, 1, 2, 100, 4, 5, 6, 101]
    _assert_equal_states(flash["state"], lightning["state"])


def test_save_and_load_resume_mid_epoch_equals_the_uninterrupted_run(tmp_path):
    results = {}
    for name in ("lightning", "flash"):
        lib = programs.library(name)
        whole = programs.resumable(lib, tmp_path / f"{name}-whole.ckpt")
        first = programs.resumable(lib, tmp_path / f"{name}.ckpt", stop_at=6)
        second = programs.resumable(lib, tmp_path / f"{name}.ckpt")
        assert first["step"] == 6 and second["step"] == 10 and second["remainder"] == {"note": "stopped"}
        assert first["losses"] + second["losses"] == whole["losses"] and second["lr"] == whole["lr"]
        _assert_equal_states(second["state"], whole["state"])
        results[name] = whole
    assert results["flash"]["losses"] == results["lightning"]["losses"]
    _assert_equal_states(results["flash"]["state"], results["lightning"]["state"])


DDP_SCRIPT = """
import sys, torch
from tests.fabric import programs

name, out = sys.argv[1], sys.argv[2]
lib = programs.library(name)
classifier = programs.image_classifier(lib, steps=8, strategy="ddp", devices=2)
accumulated = programs.accumulation(lib, updates=2, strategy="ddp", devices=2)
if classifier["world_size"] == 2 and torch.distributed.get_rank() == 0:
    torch.save({"classifier": classifier, "accumulation": accumulated}, f"{out}/{name}.pt")
"""


@pytest.mark.slow
def test_ddp_programs_match_lightning(tmp_path):
    """Both libraries re-run the script for the second process (``fabric.launch()`` with strategy="ddp" on CPU);
    the script makes two Fabrics, one per program: the second joins the processes the first launched."""
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    for name in ("lightning", "flash"):
        run_processes(tmp_path / "ddp.py", name, str(tmp_path))
    lightning, flash = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in ("lightning", "flash"))
    for program in ("classifier", "accumulation"):
        ours, theirs = flash[program], lightning[program]
        assert ours["world_size"] == 2
        for series in ("losses", "norms"):  # rank 0's
            torch.testing.assert_close(ours.get(series, []), theirs.get(series, []), rtol=0, atol=1e-5)
        for key, value in theirs["state"].items():
            torch.testing.assert_close(ours["state"][key], value, rtol=0, atol=1e-5)
    assert abs(flash["classifier"]["accuracy"] - lightning["classifier"]["accuracy"]) < 1e-6


def test_programs_are_written_once():
    """Nothing in the programs names a library: ``programs.library`` is the one place that differs."""
    source = Path(programs.__file__).read_text()
    body = source[source.index("def digits"):]
    assert "lightning" not in body and "flash" not in body
