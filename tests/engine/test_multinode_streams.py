"""Multi-node by design (issue 31 item 8): 2 "nodes" x 2 processes under torchrun on localhost (gloo, CPU) train
on a stream with flash.Trainer, and every sample is seen once per epoch over the 4 ranks and their workers.

The two nodes are two ``torchrun --nnodes=2 --node-rank=0/1 --nproc-per-node=2`` invocations meeting at one
master address and port (static rendezvous), exactly as on two machines. One launch runs every case in turn
(one process group): a torch IterableDataset with 0 and with 2 DataLoader workers, a Hugging Face stream split
by shard, and a Hugging Face stream whose shards are uneven (one rank's share ends first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
import torch

from flash.fabric.environment import free_port
from tests.engine.helpers import REPO

SCRIPT = """
import os, sys
import torch, flash
from torch.utils.data import DataLoader, IterableDataset
from flash.core.data.streams import StreamInput

out = sys.argv[1]
with open(f"{out}/pid{os.environ['RANK']}", "w") as f:  # torchrun starts each rank in a session of its own
    f.write(str(os.getpid()))


def features(i):
    x = torch.tensor([i % 7, i % 5, i % 3, 1.0]) / 7
    return x, x.sum(0, keepdim=True)


class Source(IterableDataset):  # a user's stream: no length, read as it comes
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


class Rows(StreamInput):
    def to_sample(self, item, index):
        i = int(item["id"]) if isinstance(item, dict) else item
        x, y = features(i)
        return {"x": x, "y": y, "id": i}


def hf_stream(n, shards):
    import datasets
    return datasets.Dataset.from_dict({"id": list(range(n))}).to_iterable_dataset(num_shards=shards)


class Tiny(flash.TrainingModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self.net(batch["x"]), batch["y"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Record(flash.Callback):
    def __init__(self):
        self.seen = {}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.setdefault(trainer.current_epoch, []).append(batch["id"].tolist())


CASES = {"torch-w0": (lambda: Source(23), 0), "torch-w2": (lambda: Source(23), 2),
         "hf-w2": (lambda: hf_stream(32, 8), 2), "hf-uneven-w0": (lambda: hf_stream(26, 8), 0)}
results = {}
for name, (make, workers) in CASES.items():
    flash.seed_everything(5)
    model, record = Tiny(), Record()
    stream = Rows("train", make(), shuffle_buffer=3, seed=5)
    trainer = flash.Trainer(strategy="ddp", devices=2, num_nodes=2, accelerator="cpu", max_epochs=2, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, num_sanity_val_steps=0,
                            callbacks=[record], default_root_dir=out)
    trainer.fit(model, DataLoader(stream, batch_size=2, num_workers=workers))
    results[name] = {"seen": record.seen, "step": trainer.global_step,
                     "weights": torch.cat([p.detach().flatten() for p in model.parameters()])}
torch.save({"rank": trainer.global_rank, "world_size": trainer.world_size, "source": trainer.strategy.env.source,
            "node": int(os.environ["GROUP_RANK"]), "local_rank": int(os.environ["LOCAL_RANK"]), "results": results},
           f"{out}/rank{trainer.global_rank}.pt")
"""

NODES, PER_NODE = 2, 2


def _launch_two_nodes(tmp_path, timeout: float = 420) -> list[dict]:
    """Two torchrun "nodes" on localhost; a hang or a failure fails the test (every process is killed)."""
    pytest.importorskip("datasets")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "FLASH_LAUNCHED", "SLURM_NTASKS"):
        env.pop(name, None)
    port = free_port()
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", f"--nnodes={NODES}", f"--node-rank={node}",
         f"--nproc-per-node={PER_NODE}", "--rdzv-backend=static", "--master-addr=127.0.0.1",
         f"--master-port={port}", str(script), str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True) for node in range(NODES)]
    deadline, logs = time.monotonic() + timeout, []
    try:
        for node in nodes:
            logs.append(node.communicate(timeout=max(1.0, deadline - time.monotonic()))[0])
    except subprocess.TimeoutExpired:
        _kill(nodes, tmp_path)
        raise AssertionError(f"the 2-node run hung for {timeout} s:\n" + "\n".join(n.communicate()[0][-3000:]
                                                                                  for n in nodes)) from None
    for node, log in zip(nodes, logs):
        assert node.returncode == 0, f"node exited with {node.returncode}:\n{log[-6000:]}"
    return [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(NODES * PER_NODE)]


def _kill(nodes: list[subprocess.Popen], tmp_path) -> None:
    """SIGKILL both torchrun launchers and every rank they started (each in its own session)."""
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
    for pid_file in tmp_path.glob("pid*"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return _launch_two_nodes(tmp_path_factory.mktemp("two_nodes"))


def _epochs(ranks: list[dict], case: str) -> list[list[list[int]]]:
    """Per epoch, each rank's sample ids in the order it trained on them."""
    per_rank = [r["results"][case]["seen"] for r in ranks]
    assert all(seen.keys() == {0, 1} for seen in per_rank), [seen.keys() for seen in per_rank]
    return [[[i for batch in seen[epoch] for i in batch] for seen in per_rank] for epoch in (0, 1)]


@pytest.mark.slow
def test_torchrun_two_nodes_adopted_with_global_ranks(ranks):
    assert [(r["rank"], r["node"], r["local_rank"]) for r in ranks] == [(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1)]
    assert {r["world_size"] for r in ranks} == {4} and {r["source"] for r in ranks} == {"torchrun"}


@pytest.mark.slow
@pytest.mark.parametrize(("case", "n", "shares", "steps"),
                         [("torch-w0", 23, 4, 2 * 3), ("torch-w2", 23, 8, 2 * 2), ("hf-w2", 32, 8, 2 * 4)])
def test_each_sample_once_per_epoch_over_every_rank_and_worker(ranks, case, n, shares, steps):
    """Split by rank then by worker in full rounds of ``shares`` (4 ranks x workers) samples: the stream's
    last ``n % shares`` samples are dropped (torch: 23 % 4 = 3 -> ids 20-22; 23 % 8 = 7 -> ids 16-22);
    8 Hugging Face shards of 4 rows go 2 to a rank, 1 to a worker: nothing dropped. Steps per epoch and rank
    (batch 2, each worker's last batch may be short): 5 samples -> 3; 2 workers x 2 -> 2; 2 workers x 4 -> 4."""
    kept = list(range(n - n % shares)) if case.startswith("torch") else list(range(n))
    epochs = _epochs(ranks, case)
    for per_rank in epochs:
        everyone = [i for ids in per_rank for i in ids]
        assert not [i for i, c in Counter(everyone).items() if c > 1]  # no duplicates within the epoch
        assert sorted(everyone) == kept  # none missing
        assert len({len(ids) for ids in per_rank}) == 1  # every rank trained on as many samples
    assert epochs[0] != epochs[1]  # the shuffle buffer reshuffles each epoch
    assert {r["results"][case]["step"] for r in ranks} == {steps}  # 2 epochs, every rank in step
    weights = [r["results"][case]["weights"] for r in ranks]
    assert all(torch.equal(weights[0], w) for w in weights[1:])  # DDP kept the replicas identical


@pytest.mark.slow
def test_uneven_shares_end_the_epoch_together_without_duplicates(ranks):
    """26 rows in 8 Hugging Face shards (4,4,3,3,3,3,3,3), shards r and r + 4 to rank r: ranks 0 and 1 hold 7 rows
    (4 batches of 2), ranks 2 and 3 hold 6 (3 batches). Every rank stops after the 3rd batch, when ranks 2 and 3
    run out (no hang, no desynchronised all-reduce); no sample is seen twice, ranks 0 and 1 leave one row each."""
    epochs = _epochs(ranks, "hf-uneven-w0")
    for per_rank in epochs:
        everyone = [i for ids in per_rank for i in ids]
        assert len(everyone) == len(set(everyone)) == 24 and set(everyone) <= set(range(26))
        assert [len(ids) for ids in per_rank] == [6, 6, 6, 6]  # 3 batches of 2 each
    assert {r["results"]["hf-uneven-w0"]["step"] for r in ranks} == {2 * 3}
