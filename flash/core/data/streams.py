"""Streamed data: a Hugging Face ``IterableDataset``, a torch ``IterableDataset`` or a generator, read as it comes.

A stream has no length: ``Trainer(max_steps=...)`` or ``limit_train_batches=`` says how long an epoch is
(without either, an epoch ends when the stream does). Its labels cannot be inferred without reading it
all, so they are declared up front: ``labels=[...]`` or ``num_classes=``. Training streams are shuffled
through a buffer (``shuffle_buffer`` samples, seeded per epoch). Every process (DDP rank) and DataLoader
worker reads its own share, without duplicates: a Hugging Face stream is split by
``datasets.distributed.split_dataset_by_node`` (by shard when the shards divide evenly) and then by
``datasets`` itself across workers; any other stream is split sample by sample (sample ``i`` goes to share
``i % shares``, shares ordered by rank then worker; under DDP only full rounds of ``shares`` samples, so the
last ``n % shares`` samples of the stream are dropped and every process runs the same number of batches).
Should one process's share still end first (uneven Hugging Face shards), the engine ends the epoch on every
process at that batch. A generator can be read once: one epoch (pass a list, or an object whose ``__iter__``
starts over, for more).

Example:
    >>> stream = load_dataset("imagefolder", data_dir="...", streaming=True)["train"]  # doctest: +SKIP
    >>> datamodule = MyTaskData.from_datasets(  # any task's data class  # doctest: +SKIP
    ...     train_dataset=stream, labels=["cat", "dog"])
    >>> flash.Trainer(max_steps=1000).fit(model, datamodule=datamodule)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import random
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from flash.core.data.columns import TARGET
from flash.core.data.inputs import STAGES, SkipSample
from flash.core.targets import TargetFormatter
from flash.errors import ConfigurationError, DataError
from flash.fabric.seed import recorded_seed


def is_hf_iterable(obj: Any) -> bool:
    """A Hugging Face ``datasets.IterableDataset`` (duck-typed: ``datasets`` is never imported here)."""
    return type(obj).__name__ == "IterableDataset" and hasattr(obj, "n_shards") and hasattr(obj, "features")


def is_stream(obj: Any) -> bool:
    """Whether ``obj`` is read as a stream: an iterable dataset (torch or Hugging Face), a generator or iterator."""
    if isinstance(obj, (IterableDataset, types.GeneratorType, Iterator)):
        return True
    return is_hf_iterable(obj)


def process_share() -> tuple[int, int]:
    """(this process's rank, the number of processes) of the running torch.distributed job, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def full_rounds(items: Iterable[Any], *, share: int, shares: int) -> Iterator[Any]:
    """Item ``share`` of each full round of ``shares`` items: the last ``len(items) % shares`` items are dropped.

    Every share then holds the same number of items, so DDP processes (each with the same number of DataLoader
    workers) run the same number of batches and no process waits in a collective that the others never reach.
    """
    items = iter(items)
    while len(chunk := list(itertools.islice(items, shares))) == shares:
        yield chunk[share]


def shuffled(items: Iterable[Any], *, buffer: int, rng: random.Random) -> Iterator[Any]:
    """``items`` in a random order, holding at most ``buffer`` of them (a shuffle buffer)."""
    held: list[Any] = []
    for item in items:
        if len(held) < buffer:
            held.append(item)
            continue
        index = rng.randrange(buffer)
        yield held[index]
        held[index] = item
    rng.shuffle(held)
    yield from held


class StreamInput(IterableDataset):
    """One stage's stream. Subclasses say how a raw item becomes a sample (``to_sample``) and how it loads.

    Args:
        stage: "train", "val", "test" or "predict".
        source: a torch/Hugging Face ``IterableDataset``, a generator, or any iterable of items.
        shuffle_buffer: samples held to shuffle from (training only; 0: stream order).
        seed: the shuffle's seed (with the epoch); on_bad_file: "skip" drops a sample whose load raises
            :class:`SkipSample`, with a warning naming it.
    """

    label_names: list[str] | None = None
    input_transform: Any = None

    def __init__(self, stage: str, source: Any, *, shuffle_buffer: int = 1000, seed: int = 0) -> None:
        if stage not in STAGES:
            raise ConfigurationError(f"stage must be one of {STAGES}. Received: stage={stage!r}")
        if not isinstance(shuffle_buffer, int) or shuffle_buffer < 0:
            raise ConfigurationError(f"shuffle_buffer must be an int >= 0. Received: shuffle_buffer={shuffle_buffer!r}")
        self.stage, self.source, self.seed = stage, source, seed
        self.shuffle_buffer = shuffle_buffer if stage == "train" else 0
        self.transform: Callable[[dict], dict] | None = None
        self.target_formatter: TargetFormatter | None = None
        self.has_targets = stage != "predict"
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()  # seen by forked, persistent workers
        self._skip = torch.tensor([-1, 0, 0], dtype=torch.int64).share_memory_()  # epoch, batches, batch size
        self._one_shot = isinstance(source, Iterator)
        self._started = False

    def to_sample(self, item: Any, index: int) -> dict:
        raise NotImplementedError

    def load_sample(self, sample: dict) -> dict:
        return sample

    def set_epoch(self, epoch: int) -> None:
        """The engine calls this before each epoch: the shuffle (and a Hugging Face stream's) depends on it."""
        self._epoch.fill_(epoch)
        if is_hf_iterable(self.source):  # here, once: datasets' set_epoch is a read-add on memory the workers share,
            self.source.set_epoch(epoch)  # so two workers setting it at once could land on epoch 2 (other shards)

    def skip_batches(self, batches: int, batch_size: int, *, workers: int = 0) -> int:
        """Resume mid-epoch: the current epoch's next pass starts after ``batches`` batches.

        The items are dropped before they are loaded (nothing decoded, no random augmentation drawn), so a
        resumed run sees exactly the batches an unbroken run saw next. The engine calls this on resume.
        Each worker works out its part, knowing that the workers take turns per batch; that holds for a
        stream split sample by sample, not for a Hugging Face stream read by several workers (split by shard,
        one worker may run out first, and which made which batch is then unknown here). For that one this
        returns ``batches``: the caller loads and drops them (with ``seed_everything``, the samples' random
        draws are seeded per sample, so what follows is the same). Otherwise the stream drops whole rounds
        (one batch from each worker), since a new pass starts its turns at worker 0, and returns the batches of
        the last, partial round for the caller to drop: fewer than ``workers``.
        """
        if workers > 1 and is_hf_iterable(self.source):
            return batches
        rounds = batches // max(workers, 1) * max(workers, 1)
        self._skip[0], self._skip[1], self._skip[2] = int(self._epoch), rounds, batch_size
        return batches - rounds

    def _to_skip(self) -> int:
        """Items of this worker's share to drop: its part of the batches to skip (workers take turns per batch)."""
        epoch, batches, batch_size = (int(v) for v in self._skip)
        if epoch != int(self._epoch) or not batches:
            return 0
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        return (batches - worker_id + workers - 1) // workers * batch_size

    def format_targets(self, formatter: TargetFormatter) -> None:
        self.target_formatter = formatter

    def _items(self) -> Iterator[tuple[int, Any]]:
        """``(index in the stream, item)`` of this process's and this worker's share."""
        rank, ranks = process_share()
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        epoch = int(self._epoch)
        if is_hf_iterable(self.source):
            source = self.source
            if ranks > 1:
                from datasets.distributed import split_dataset_by_node

                source = split_dataset_by_node(source, rank=rank, world_size=ranks)
            if getattr(source, "epoch", None) != epoch:  # a split copy, or datasets without shared memory
                source.set_epoch(epoch)
            return enumerate(source)  # datasets itself splits a stream across DataLoader workers
        share, shares = rank * workers + worker_id, ranks * workers
        if ranks > 1:  # every share equally long, so that the processes take the same number of steps
            return full_rounds(enumerate(self.source), share=share, shares=shares)
        return itertools.islice(enumerate(self.source), share, None, shares)

    def __iter__(self) -> Iterator[dict]:
        if self._one_shot and self._started:
            raise DataError(f"The {self.stage} generator was read to its end already: a generator streams once. "
                            "Train for one epoch (or set max_steps), or pass a list or an object whose __iter__ "
                            "starts over.")
        self._started = True
        items = self._items()
        if self.shuffle_buffer:
            rng = random.Random(self.seed * 1_000_003 + int(self._epoch) * 7919 + _share_id())
            items = shuffled(items, buffer=self.shuffle_buffer, rng=rng)
        items = itertools.islice(items, self._to_skip(), None)
        reseed = _sample_seeder(self.seed, int(self._epoch))
        for index, item in items:
            if reseed is not None:
                reseed(index)
            sample = self.to_sample(item, index)
            target = sample.get(TARGET)
            if target is not None and self.target_formatter is not None:
                sample[TARGET] = self.target_formatter(target, where=f"the {self.stage} stream (item {index})")
            try:
                sample = self.load_sample(sample)
            except SkipSample as skip:
                warnings.warn(f"Skipped a bad file in the {self.stage} data: {skip}", stacklevel=2)
                continue
            yield self.transform(sample) if self.transform is not None else sample


def _sample_seeder(seed: int, epoch: int) -> Callable[[int], None] | None:
    """In a DataLoader worker of a seeded run, what seeds torch, ``random`` (and NumPy) before each sample.

    The seed is a function of (``seed_everything``'s seed, the stream's seed, the epoch, the sample's index), so a
    sample's random augmentation depends neither on the worker that loads it nor on the samples before it: a
    resumed run, which drops those unread, draws what an unbroken run drew. None in the main process (a
    checkpoint restores its RNG, and the model's dropout shares it) or without ``seed_everything``.
    """
    run_seed = recorded_seed()
    if get_worker_info() is None or run_seed is None:
        return None
    numpy = sys.modules.get("numpy")

    def reseed(index: int) -> None:
        value = hash((run_seed, seed, epoch, index)) & 0xFFFF_FFFF  # an int tuple's hash is the same in every process
        torch.default_generator.manual_seed(value)  # the CPU's: torch.manual_seed (every backend) costs ~80x more
        random.seed(value)
        if numpy is not None:
            numpy.random.seed(value)

    return reseed


def _share_id() -> int:
    rank, _ = process_share()
    worker = get_worker_info()
    return rank * 1000 + (worker.id if worker is not None else 0)


def stream_formatter(labels: Sequence[str] | None, num_classes: int | None, *, multi_label: bool | None) -> Any:
    """The target formatter of streamed data, from the labels declared up front."""
    if multi_label:
        raise ConfigurationError("Streamed data takes single-label targets (a class name or index per sample). "
                                 f"Received: multi_label={multi_label!r}")
    if labels:
        if num_classes is not None and num_classes != len(labels):
            raise ConfigurationError(f"num_classes={num_classes} disagrees with the {len(labels)} labels given. "
                                     f"Received: num_classes={num_classes!r}, labels={list(labels)!r}")
        return StreamTargets(list(labels))
    if num_classes is None or num_classes < 1:
        raise ConfigurationError(
            "Streamed data has no length to read the labels from up front: declare them, with labels=[...] "
            f"(the class names, in the order of their indices) or num_classes=N. Received: num_classes={num_classes!r}")
    return StreamTargets(None, num_classes)


class StreamTargets(TargetFormatter):
    """Class names or indices -> class index, for labels declared up front (names and indices both accepted)."""

    def __init__(self, labels: list[str] | None, num_classes: int | None = None) -> None:
        super().__init__("names" if labels else "indices", len(labels) if labels else int(num_classes or 0),
                         False, labels)

    def __call__(self, target: Any, *, where: str = "the data") -> Any:
        if self.kind == "names" and not isinstance(target, str):  # a ClassLabel column gives indices
            return TargetFormatter("indices", self.num_classes, False, self.labels)(target, where=where)
        if self.kind == "indices" and isinstance(target, str):
            raise DataError(f"Unknown label {target!r} in {where}: only num_classes={self.num_classes} was declared, "
                            "so the targets must be class indices. Pass labels=[...] to name the classes.")
        return super().__call__(target, where=where)
