"""flash.core.threads: usable cores from affinity, cgroup quota and OMP_NUM_THREADS; threads per process."""

import os

import pytest
import torch

from flash.core import threads


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A fake machine: 8 CPUs of affinity, no cgroup limit, OMP_NUM_THREADS unset; torch's threads restored."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(threads, "CGROUP", tmp_path)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_TORCH_DEFAULT", 8)
    before = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(before)


def test_affinity_alone(machine):
    assert threads.cgroup_cores() is None
    assert threads.usable_cores() == 8


@pytest.mark.parametrize(("cpu_max", "cores"), [("max 100000", 8), ("200000 100000", 2), ("150000 100000", 2),
                                                ("50000 100000", 1)])
def test_cgroup_v2_quota_rounds_up(machine, cpu_max, cores):
    (machine / "cpu.max").write_text(cpu_max + "\n")
    assert threads.usable_cores() == cores


def test_cgroup_v1_quota(machine):
    (machine / "cpu").mkdir()
    (machine / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (machine / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_cores() == 3 and threads.usable_cores() == 3
    (machine / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # v1's "no limit"
    assert threads.cgroup_cores() is None


@pytest.mark.parametrize(("value", "cores"), [("1", 1), ("4,2", 4), ("16", 8), ("0", 8), ("", 8), ("many", 8)])
def test_omp_num_threads_caps_but_never_raises(machine, monkeypatch, value, cores):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert threads.usable_cores() == cores


def test_smallest_limit_wins(machine, monkeypatch):
    (machine / "cpu.max").write_text("400000 100000")
    monkeypatch.setenv("OMP_NUM_THREADS", "6")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4}, raising=False)
    assert threads.usable_cores() == 4


@pytest.mark.parametrize(("workers", "expected"), [(0, 4), (1, 3), (3, 1), (6, 1)])
def test_main_process_gets_what_the_workers_leave(machine, workers, expected):
    (machine / "cpu.max").write_text("400000 100000")
    assert threads.configure_threads(workers) == expected
    assert torch.get_num_threads() == expected


def test_threads_come_back_and_never_exceed_torchs_default(machine, monkeypatch):
    monkeypatch.setattr(threads, "_TORCH_DEFAULT", 2)  # torch counted 2 physical cores of the 8 logical ones
    assert threads.configure_threads(0) == 2
    assert threads.configure_threads(7) == 1
    assert threads.configure_threads(0) == 2


def test_bad_num_workers_is_named(machine):
    with pytest.raises(ValueError, match=r"Received: num_workers=-1"):
        threads.configure_threads(-1)


def test_worker_init_fn_runs_workers_on_one_thread():
    class Threads(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return torch.get_num_threads()

    loader = torch.utils.data.DataLoader(Threads(), batch_size=2, num_workers=1, worker_init_fn=threads.worker_init_fn)
    assert [int(x) for batch in loader for x in batch] == [1, 1, 1, 1]
