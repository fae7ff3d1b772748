"""DataLoaders the engine controls: a seeded, shardable, resumable sampler.

The user's DataLoader is rebuilt with :class:`ResumableSampler` so that training can shard
over processes, reshuffle per epoch (``set_epoch``), and resume mid-epoch by skipping
already-seen sample indices instead of replaying data.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Callable, Iterator, Sized
from typing import Any, cast

import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, Sampler, SequentialSampler

from flash.errors import DataError


class ResumableSampler(Sampler[int]):
    """Indices for one process: a seeded permutation per epoch, sharded round-robin by rank.

    Training shards are padded to equal length (every process steps the same number of times);
    evaluation shards are not, so no sample is seen twice.
    """

    def __init__(self, num_samples: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1,
                 pad: bool = True) -> None:
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self.epoch = 0
        self.start = 0  # samples of this shard to skip on the next iteration (resume)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard(self) -> list[int]:
        """This process's indices for the current epoch, in order."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        if self.pad and self.world_size > 1 and order:
            total = math.ceil(self.num_samples / self.world_size) * self.world_size
            order += (order * math.ceil(total / len(order)))[: total - len(order)]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        indices = self.shard()[self.start :]
        self.start = 0
        return iter(indices)

    def __len__(self) -> int:
        if self.pad and self.world_size > 1:
            return math.ceil(self.num_samples / self.world_size)
        return len(range(self.rank, self.num_samples, self.world_size))


def engine_dataloader(loader: Any, *, train: bool, rank: int, world_size: int, seed: int) -> Any:
    """Rebuild ``loader`` around a :class:`ResumableSampler`; pass anything else through.

    A DataLoader with a custom sampler is kept as it is (it then resumes by skipping batches and is not
    sharded automatically). One over an IterableDataset (a stream: it shards and skips itself) only gets a
    generator of its own, if it has none: the DataLoader draws its workers' base seed when an iteration
    starts, which would otherwise take a number from the global RNG that a resumed run restored.
    """
    if not isinstance(loader, DataLoader):
        return loader
    if isinstance(loader.dataset, IterableDataset):
        return loader if loader.generator is not None else _rebuilt(loader, seed)
    if isinstance(loader.sampler, ResumableSampler):
        return loader
    if not isinstance(loader.sampler, (RandomSampler, SequentialSampler)) or loader.batch_size is None:
        return loader
    sampler = ResumableSampler(
        len(cast(Sized, loader.dataset)), shuffle=isinstance(loader.sampler, RandomSampler), seed=seed,
        rank=rank, world_size=world_size, pad=train,
    )
    return _rebuilt(loader, seed, sampler=sampler)


def _rebuilt(loader: DataLoader, seed: int, **kwargs: Any) -> DataLoader:
    """``loader``'s settings, with a generator of its own seeded with ``seed`` (and ``kwargs``)."""
    kwargs.update(
        batch_size=loader.batch_size, num_workers=loader.num_workers,
        collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last,
        timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
        generator=torch.Generator().manual_seed(seed),
    )
    if loader.num_workers > 0:
        kwargs.update(prefetch_factor=loader.prefetch_factor, persistent_workers=loader.persistent_workers,
                      multiprocessing_context=loader.multiprocessing_context)
    return DataLoader(loader.dataset, **kwargs)


def set_epoch(loader: Any, epoch: int, seed: int) -> None:
    """Reshuffle for ``epoch`` and make worker seeds a function of (seed, epoch)."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    dataset = getattr(loader, "dataset", None)
    if isinstance(dataset, IterableDataset) and hasattr(dataset, "set_epoch"):  # a stream shuffles itself per epoch
        dataset.set_epoch(epoch)
    generator = getattr(loader, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(seed + epoch)


def skip_samples(loader: Any, batches: int) -> int:
    """Arrange for the next iteration to start after ``batches`` batches; return batches left to skip by hand."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, ResumableSampler) and batches:
        sampler.start = batches * loader.batch_size
        return 0
    dataset = getattr(loader, "dataset", None)
    if batches and isinstance(dataset, IterableDataset) and hasattr(dataset, "skip_batches"):
        # a stream drops them before loading them, or says how many it cannot
        return int(dataset.skip_batches(batches, loader.batch_size, workers=loader.num_workers) or 0)
    return batches


def num_batches(loader: Any) -> float:
    """Batches per epoch, or ``inf`` when the loader has no length."""
    try:
        return len(loader)
    except TypeError:
        return math.inf


def while_all_have_one(batches: Any, all_reduce: Callable[..., torch.Tensor]) -> Iterator[Any]:
    """``batches`` for as long as every process still has a batch: the epoch ends on all of them together.

    A loader without a length (a stream) may hold fewer batches on one process than on another; the others
    would then wait in a gradient all-reduce that never comes (or pair it with the next epoch's). Costs one
    one-number all-reduce per batch, paid only by unsized loaders in a multi-process run.
    """
    end = object()
    iterator = iter(batches)
    while True:
        batch = next(iterator, end)
        if not int(all_reduce(torch.tensor(0 if batch is end else 1), op="min")):
            return
        yield batch


def sample_indices(loader: Any) -> list[int] | None:
    """Dataset indices of this process's samples in iteration order (None if unknown)."""
    sampler = getattr(loader, "sampler", None)
    return sampler.shard() if isinstance(sampler, ResumableSampler) else None


def _dead_workers(iterator: Any) -> list[str]:
    """``"worker 1 (pid 4242, killed by SIGKILL)"`` for each DataLoader worker of ``iterator`` that has died."""
    dead = []
    for worker_id, worker in enumerate(getattr(iterator, "_workers", None) or []):
        if worker.exitcode is None:
            with contextlib.suppress(RuntimeError):  # torch's SIGCHLD handler may raise for this death here
                worker.join(timeout=1.0)  # a worker that just died may not be reaped yet
        code = worker.exitcode
        if code is None or code == 0:
            continue
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        dead.append(f"worker {worker_id} (pid {worker.pid}, {how})")
    return dead


@contextlib.contextmanager
def explain_worker_death(iterator: Any, *, stage: str) -> Iterator[None]:
    """Turn a DataLoader worker's death inside the block into a DataError that names the worker and the fix.

    PyTorch reports a dead worker as a ``RuntimeError`` or, when it died mid-transfer, a broken
    connection; either way the real cause (often the out-of-memory killer) is lost.
    """
    try:
        yield
    except (RuntimeError, ConnectionError, EOFError) as err:
        dead = _dead_workers(iterator)
        if not dead and not str(err).startswith("DataLoader worker"):
            raise
        with contextlib.suppress(Exception):  # stop the remaining workers now, quietly
            iterator._shutdown_workers()
        workers = ", ".join(dead) or str(err).splitlines()[0]
        raise DataError(
            f"A DataLoader worker of the {stage} data died: {workers}. A worker killed by SIGKILL was most often "
            "stopped by the out-of-memory killer: lower batch_size or num_workers. To see the real error, load "
            "the data in the main process with num_workers=0 (flash train: --data.num_workers 0). "
            f"Received: num_workers={getattr(iterator, '_num_workers', '?')}"
        ) from err


def apply_to_tensors(data: Any, fn: Callable[[torch.Tensor], Any], *, other: Callable[[Any], Any] | None = None) -> Any:
    """``data`` with ``fn`` applied to every tensor inside dicts, lists, tuples and namedtuples.

    The containers keep their type; anything else (strings, numbers, metadata) is returned as is, or passed
    to ``other`` when given (the device mover hands objects with a ``.to`` method, e.g. a tokenizer's
    ``BatchEncoding``, to it).
    """
    if isinstance(data, torch.Tensor):
        return fn(data)
    if isinstance(data, dict):
        return {key: apply_to_tensors(value, fn, other=other) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        items = [apply_to_tensors(value, fn, other=other) for value in data]
        if hasattr(data, "_fields"):  # a namedtuple
            return type(data)(*items)
        return tuple(items) if isinstance(data, tuple) else items
    return data if other is None else other(data)


def default_num_workers(*, cuda: bool) -> int:
    """DataLoader worker processes when ``num_workers`` is not given.

    On a CUDA machine, one per spare CPU core (at most 4) so images decode while the GPU computes. On CPU-only
    machines 0: the model's own threads use the cores, and measured on 2 cores (benchmarks/README.md) 1 or 2
    workers did not shorten an epoch. Also 0 where workers would be spawned (macOS, Windows: they re-import the
    user's script, and a notebook's classes cannot reach them); pass ``num_workers`` to choose yourself.
    """
    import multiprocessing
    import os

    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    if not cuda or method != "fork":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(4, cores - 1))
