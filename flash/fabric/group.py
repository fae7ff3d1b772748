"""Closing the process group when a process exits.

Gloo runs collectives on worker threads of its own. The worker that ran the last collective drops its reference
to the tensors only after the caller has seen the result; dropping a tensor Python also knows needs the GIL,
which an interpreter that is already shutting down never gives back: the thread is unwound and the process dies
with "terminate called without an active exception" (SIGABRT) after the script itself succeeded. So at exit,
while the interpreter still runs, every rank meets at one more barrier and the group is closed. Gloo's barrier
takes over the earlier collectives (it waits for them and keeps them until it is freed itself), and this module
keeps the barrier to the end, so the last of those tensors is dropped by Python, not by a gloo thread.
"""

from __future__ import annotations

import atexit
import sys
from datetime import timedelta

import torch.distributed as dist

EXIT_BARRIER_TIMEOUT = timedelta(seconds=30)  # a rank that never comes (stuck elsewhere) delays the exit this long
_kept: list = []  # the exit barrier, held until the interpreter frees this module
_failed = False


def mark_failed() -> None:
    """This rank failed with an exception something else caught (a spawned worker): the others will not meet it
    at the exit barrier, so it closes without waiting (an uncaught exception is seen by itself)."""
    global _failed
    _failed = True


def close_at_exit() -> None:
    """Close the process group this process just started when it exits (registered once a group is started)."""
    atexit.register(close)


def close() -> None:
    if not dist.is_initialized():
        return
    failed = _failed or hasattr(sys, "last_value")  # last_value: an uncaught exception ends the script
    if dist.get_backend() == "gloo" and dist.get_world_size() > 1 and not failed:
        try:
            _kept.append(dist.barrier(async_op=True))
            _kept[-1].wait(timeout=EXIT_BARRIER_TIMEOUT)
        except Exception:  # noqa: BLE001 - a rank that failed or left: nothing to wait for, close anyway
            pass
    dist.destroy_process_group()
