"""Length-sorted evaluation order: shortest first, every index once, split evenly across processes."""

from unittest import mock

from flash.core.data import samplers
from flash.core.data.samplers import SortedLengthSampler


def test_sorted_length_sampler_is_shortest_first_and_stable():
    lengths = [30, 5, 12, 5, 80, 1]
    sampler = SortedLengthSampler(lengths)
    assert list(sampler) == [5, 1, 3, 2, 0, 4] and len(sampler) == 6
    assert list(sampler) == list(sampler)  # deterministic


def test_sorted_length_sampler_splits_across_processes():
    lengths = [7, 3, 9, 1, 5]
    shards = []
    for rank in range(2):
        with mock.patch.object(samplers, "process_group", return_value=(rank, 2)):
            sampler = SortedLengthSampler(lengths)
            shards.append(list(sampler))
            assert len(sampler) == 3
    assert sorted(set(shards[0] + shards[1])) == [0, 1, 2, 3, 4]  # every sample, the first repeated to even out
