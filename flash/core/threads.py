"""How many threads each of flash's processes may use, so that together they never oversubscribe the cores.

A run has a main process with an intra-op pool (torch's ``set_num_threads``) and an inter-op pool, and
``num_workers`` DataLoader processes, each with pools of their own. torch sizes every pool to the machine's
physical cores, whatever else runs: on a machine whose cores are busy, ``flash predict`` on 10k small images
took 3 min 46 s with the defaults and 19 s with ``OMP_NUM_THREADS=1`` (issue 30). So:

- :func:`usable_cores` is the number of cores this process may run on: the smallest of its CPU affinity
  (``os.sched_getaffinity``), the cgroup CPU quota (``/sys/fs/cgroup/cpu.max``, or cgroup v1's
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, rounded up) and ``OMP_NUM_THREADS`` when it is set.
- :func:`configure_threads` gives the main process's intra-op pool what the workers leave:
  ``usable_cores() - num_workers``, at least 1, and never more than torch's own default.
- :func:`worker_init_fn` runs in each DataLoader worker: one thread (the workers decode and collate; the
  model's threads are in the main process), then the per-worker seeding of :mod:`flash.engine.seed`.

torch is imported by the functions that set threads, not by the module: ``flash serve`` sizes its decoding
threads with :func:`usable_cores` and serves exported ONNX models without torch.

Example:
    >>> from flash.core.threads import configure_threads, usable_cores
    >>> threads = configure_threads(num_workers=0)
    >>> 1 <= threads <= usable_cores()
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
_TORCH_DEFAULT: int | None = None  # torch's own choice, read before flash first changes it


def affinity_cores() -> int:
    """The CPUs this process may be scheduled on (``os.cpu_count()`` where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def cgroup_cores(root: Path | None = None) -> int | None:
    """The cgroup CPU quota in cores, rounded up (``"150000 100000"`` -> 2); None without a limit."""
    root = CGROUP if root is None else root
    quota = period = None
    try:
        fields = (root / "cpu.max").read_text().split()  # cgroup v2: "<quota|max> <period>"
        if len(fields) == 2 and fields[0] != "max":
            quota, period = int(fields[0]), int(fields[1])
    except (OSError, ValueError):
        try:  # cgroup v1: quota -1 means no limit
            quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            return None
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def omp_threads(environ: Mapping[str, str] = os.environ) -> int | None:
    """``OMP_NUM_THREADS`` as a positive int, None when unset or not a positive int (OpenMP then ignores it)."""
    value = environ.get("OMP_NUM_THREADS", "").strip().split(",")[0]  # "4,2": nested levels, the first counts
    return int(value) if value.isdigit() and int(value) > 0 else None


def usable_cores() -> int:
    """How many cores flash's processes may use together: affinity, cgroup quota and ``OMP_NUM_THREADS``."""
    limits = [affinity_cores(), cgroup_cores(), omp_threads()]
    return min(limit for limit in limits if limit is not None)


def configure_threads(num_workers: int) -> int:
    """Set the main process's intra-op threads so that main + ``num_workers`` workers fit the usable cores.

    Returns the number of threads set: ``usable_cores() - num_workers``, at least 1, at most torch's
    default (its count of physical cores). Calling it again with fewer workers gives the threads back.
    """
    global _TORCH_DEFAULT
    import torch

    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0. Received: num_workers={num_workers!r}")
    if _TORCH_DEFAULT is None:
        _TORCH_DEFAULT = torch.get_num_threads()
    threads = max(1, min(_TORCH_DEFAULT, usable_cores() - num_workers))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def worker_init_fn(worker_id: int) -> None:
    """A DataLoader worker: one intra-op thread, then flash's per-worker seeding."""
    import torch

    from flash.fabric.seed import worker_init_fn as seed_worker

    torch.set_num_threads(1)
    seed_worker(worker_id)
