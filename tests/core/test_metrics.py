"""flash.core.metrics gives torchmetrics' numbers, sums across processes, and costs no torchmetrics import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from flash.core.metrics import Accuracy, F1Score
from flash.errors import ConfigurationError, DataError


def _batches(task: str, size: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(4):
        if task == "multiclass":
            logits = torch.randn(16, size, generator=generator)
            logits[:, size - 1] -= 10  # the last class is never predicted; in truth only in some batches
            yield logits.softmax(-1), torch.randint(0, size - 1 + (seed % 2), (16,), generator=generator)
        else:
            yield torch.rand(16, size, generator=generator), torch.randint(0, 2, (16, size), generator=generator)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
@pytest.mark.parametrize("average", ["micro", "macro", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_scores_as_torchmetrics(task, average, seed):
    torchmetrics = pytest.importorskip("torchmetrics")
    size = 5
    key = "num_classes" if task == "multiclass" else "num_labels"
    for ours_cls, theirs_cls in ((Accuracy, torchmetrics.Accuracy), (F1Score, torchmetrics.F1Score)):
        ours, theirs = ours_cls(task, **{key: size}, average=average), theirs_cls(task=task, **{key: size},
                                                                                  average=average)
        for preds, target in _batches(task, size, seed):
            ours.update(preds, target)
            theirs.update(preds, target)
        torch.testing.assert_close(ours.compute(), theirs.compute().float(), msg=f"{ours_cls.__name__} {average}")


def test_reset_clone_and_labels_as_predictions():
    metric = Accuracy("multiclass", num_classes=3)
    metric.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2]))
    assert float(metric.compute()) == 0.75 and metric.update_count == 1
    copy = metric.clone()
    metric.reset()
    assert metric.update_count == 0 and int(metric.tp.sum()) == 0
    assert float(copy.compute()) == 0.75  # the clone kept its own counts
    assert "tp" not in metric.state_dict()  # counts are not saved in checkpoints


def test_bad_arguments_and_labels_explain_the_fix():
    with pytest.raises(ConfigurationError, match="num_classes"):
        Accuracy("multiclass")
    with pytest.raises(ConfigurationError, match="average"):
        F1Score("multiclass", num_classes=2, average="weighted-ish")
    with pytest.raises(DataError, match=r"outside 0\.\.2.*target=7"):
        Accuracy("multiclass", num_classes=3).update(torch.tensor([0, 1]), torch.tensor([0, 7]))
    with pytest.raises(DataError, match=r"\(batch, 4\)"):
        F1Score("multilabel", num_labels=4).update(torch.rand(2, 3), torch.ones(2, 3))


def test_compute_sums_the_counts_of_every_process(tmp_path):
    """Two gloo processes see different halves; both compute the score of the whole."""
    script = tmp_path / "ddp_metric.py"
    script.write_text(
        "import os, sys, torch, torch.distributed as dist\n"
        "from flash.core.metrics import Accuracy\n"
        "rank = int(sys.argv[1])\n"
        f"dist.init_process_group('gloo', init_method='file://{tmp_path}/rendezvous', rank=rank, world_size=2)\n"
        "metric = Accuracy('multiclass', num_classes=2)\n"
        "target = torch.tensor([0, 1, 1, 1]) if rank == 0 else torch.zeros(4).long()\n"
        "metric.update(torch.tensor([0, 1, 1, 1]), target)\n"
        "print(float(metric.compute()), int(metric.tp.sum()))\n"
        "from flash.fabric import group\n"
        "group.close()  # what flash does at exit: no gloo thread left holding the tensors (SIGABRT)\n"
    )
    procs = [subprocess.Popen([sys.executable, str(script), str(rank)], stdout=subprocess.PIPE, text=True)
             for rank in range(2)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # rank 0: 4 of 4 right; rank 1: 1 of 4 right -> 5 / 8 on both; each process's own counts unchanged
    assert [o[0] for o in outputs] == ["0.625", "0.625"]
    assert [o[1] for o in outputs] == ["4", "1"]


def test_importing_and_using_the_metrics_does_not_import_torchmetrics():
    code = ("import sys, torch\nfrom flash.core.metrics import F1Score\n"
            "m = F1Score('multiclass', num_classes=3, average='macro')\n"
            "m.update(torch.tensor([0, 2]), torch.tensor([0, 1]))\nm.compute()\n"
            "assert 'torchmetrics' not in sys.modules, 'torchmetrics was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
