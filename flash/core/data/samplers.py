"""Samplers that batch samples of similar length together, so a batch of texts or clips pads little.

:class:`LengthGroupedSampler` is what the text and speech DataModules train with by default;
:class:`SortedLengthSampler` orders evaluation shortest first. Both shard themselves under torch.distributed.

Example:
    >>> lengths = [5, 1, 4, 2, 9, 3]
    >>> batches = list(LengthGroupedSampler(lengths, batch_size=2, seed=0))
    >>> sorted(sorted(lengths[i] for i in batches[k : k + 2]) for k in range(0, 6, 2))  # neighbours in length
    [[1, 2], [3, 4], [5, 9]]
    >>> list(SortedLengthSampler([5, 1, 4, 2]))
    [1, 3, 2, 0]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    """Shuffled training batches, each of samples of similar length.

    Each epoch the samples are shuffled and cut into groups of ``group_batches`` batches; each group is sorted by
    length and cut into batches (one batch per process per step under torch.distributed), and the batches are
    shuffled, so neither the order of lengths nor, where classes differ in length, the order of classes follows
    a pattern. A last incomplete batch stays last (it would shift every batch after it). Under torch.distributed
    each process takes every world_size-th index of a step's samples, so its batch is of similar lengths too.
    ``set_epoch`` (the trainer calls it) draws a new order; the same seed and epoch give the same one.
    """

    def __init__(self, lengths: Sequence[float], *, batch_size: int, group_batches: int = 50, seed: int = 0) -> None:
        self.lengths, self.batch_size, self.group_batches, self.seed = list(lengths), batch_size, group_batches, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        rank, world_size = process_group()
        step = self.batch_size * world_size  # the samples of one optimizer step over all processes
        size = step * self.group_batches
        batches = []
        for start in range(0, len(order), size):
            group = sorted(order[start : start + size], key=lambda i: -self.lengths[i])
            batches += [group[k : k + step] for k in range(0, len(group), step)]
        last = [batches.pop()] if batches and len(batches[-1]) < step else []
        shuffled = [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()] + last
        indices = [i for batch in shuffled for i in batch]
        if world_size > 1:  # every process gets as many indices
            indices += indices[: len(self) * world_size - len(indices)]
            indices = indices[rank::world_size]
        return iter(indices)

    def __len__(self) -> int:
        return -(-len(self.lengths) // process_group()[1])


class SortedLengthSampler(Sampler[int]):
    """Indices shortest first, for evaluation and prediction: each batch pads to a near-equal length.

    Deterministic (no shuffling: evaluation order does not change metrics); under torch.distributed each
    process takes every world_size-th index. A predict loader using it yields predictions in this order: map
    them back with ``list(sampler)``.
    """

    def __init__(self, lengths: Sequence[float]) -> None:
        self.lengths = list(lengths)

    def __iter__(self) -> Iterator[int]:
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
        rank, world_size = process_group()
        if world_size > 1:
            order += order[: len(self) * world_size - len(order)]
            order = order[rank::world_size]
        return iter(order)

    def __len__(self) -> int:
        return -(-len(self.lengths) // process_group()[1])


def process_group() -> tuple[int, int]:
    """(rank, world size) of the running torch.distributed job, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1
