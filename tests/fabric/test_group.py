"""At exit the process group is closed after one more barrier (gloo's threads are done with the last tensors)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from flash.fabric import group


class FakeDist:
    def __init__(self, *, backend="gloo", world_size=2, barrier_error=None):
        self.calls, self.backend, self.world, self.barrier_error = [], backend, world_size, barrier_error

    def is_initialized(self):
        return "destroy" not in self.calls

    def get_backend(self):
        return self.backend

    def get_world_size(self):
        return self.world

    def barrier(self, async_op=False):
        assert async_op  # waited on with a timeout: a rank that never comes cannot hang the exit
        self.calls.append("barrier")

        def wait(timeout):
            assert timeout == group.EXIT_BARRIER_TIMEOUT
            if self.barrier_error:
                raise self.barrier_error
            self.calls.append("waited")

        return SimpleNamespace(wait=wait)

    def destroy_process_group(self):
        self.calls.append("destroy")


@pytest.fixture
def fake(monkeypatch):
    def make(**kwargs):
        dist = FakeDist(**kwargs)
        monkeypatch.setattr(group, "dist", dist)
        return dist

    monkeypatch.delattr(sys, "last_value", raising=False)
    monkeypatch.setattr(group, "_failed", False)
    return make


def test_a_normal_exit_meets_the_other_ranks_then_closes(fake):
    dist = fake()
    group.close()
    assert dist.calls == ["barrier", "waited", "destroy"]


def test_after_an_uncaught_exception_the_group_closes_without_waiting(fake, monkeypatch):
    dist = fake()
    monkeypatch.setattr(sys, "last_value", RuntimeError("rank 1 failed"), raising=False)
    group.close()
    assert dist.calls == ["destroy"]


def test_a_rank_whose_exception_was_caught_for_it_closes_without_waiting(fake):
    dist = fake()
    group.mark_failed()  # what a ddp_spawn worker does before torch reports its exception
    group.close()
    assert dist.calls == ["destroy"]


def test_a_rank_that_left_does_not_stop_the_close(fake):
    dist = fake(barrier_error=RuntimeError("Connection closed by peer"))
    group.close()
    assert dist.calls == ["barrier", "destroy"]


@pytest.mark.parametrize("backend, world_size", [("nccl", 2), ("gloo", 1)])
def test_no_barrier_where_there_are_no_gloo_peers(fake, backend, world_size):
    dist = fake(backend=backend, world_size=world_size)
    group.close()
    assert dist.calls == ["destroy"]


def test_nothing_to_close_without_a_group(fake):
    dist = fake()
    dist.calls.append("destroy")  # not initialized
    group.close()
    assert dist.calls == ["destroy"]
