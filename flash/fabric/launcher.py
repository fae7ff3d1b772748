"""``strategy="ddp_spawn"``: start N new processes that each build the same Fabric and run one function.

Each process gets the environment torchrun would give it (``RANK``, ``WORLD_SIZE``, ``MASTER_PORT``, ...), so
its Fabric joins the group exactly as under torchrun. The function and its arguments must be picklable
(a module-level function); rank 0's return value comes back to the caller.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any

from flash.fabric import group
from flash.fabric.environment import free_port


def spawn(build: Callable[[], Any], function: Callable[..., Any], args: tuple, kwargs: dict, nprocs: int) -> Any:
    """Run ``function(fabric, *args, **kwargs)`` in ``nprocs`` new processes, ``fabric = build()`` in each."""
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    results = context.SimpleQueue()  # ("output", value) from rank 0; ("error", rank, pid, traceback) from each failure
    port = free_port()
    try:
        mp.start_processes(_worker, args=(nprocs, port, build, function, args, kwargs, results), nprocs=nprocs,
                           start_method="spawn", join=True)
    except mp.ProcessRaisedException as reported:
        # torch reports the first failed process it notices; a rank that failed first makes the others fail
        # too ("Connection closed by peer"), and that is the one to show
        first = next((item for item in _drain(results) if item[0] == "error"), None)
        if first is None or first[1] == reported.error_index:
            raise
        _, rank, pid, text = first
        raise mp.ProcessRaisedException(f"\n\n-- Process {rank} failed first (the others stopped because of it):\n"
                                        f"{text}", rank, pid) from reported
    return next((item[1] for item in _drain(results) if item[0] == "output"), None)


def _drain(results: Any) -> list[tuple]:
    # plain pickle bytes: torch's own pickler would share tensors through the exited worker's memory
    items = []
    while not results.empty():
        items.append(pickle.loads(results.get()))
    return items


def _worker(local_rank: int, nprocs: int, port: int, build: Callable[[], Any], function: Callable[..., Any],
            args: tuple, kwargs: dict, results: Any) -> None:
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(nprocs),
                      LOCAL_WORLD_SIZE=str(nprocs), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                      FLASH_LAUNCHED="1")
    fabric = build()
    try:
        output = fabric.launch(function, *args, **kwargs)  # joins the group set up by the environment above
    except BaseException:
        group.mark_failed()  # torch reports it and exits; the others are not waited for at exit
        results.put(pickle.dumps(("error", local_rank, os.getpid(), traceback.format_exc())))
        raise
    if local_rank == 0:
        results.put(pickle.dumps(("output", output)))
