"""``strategy="ddp_spawn"``: start N new processes that each build the same Fabric and run one function.

Each process gets the environment torchrun would give it (``RANK``, ``WORLD_SIZE``, ``MASTER_PORT``, ...), so
its Fabric joins the group exactly as under torchrun. The function and its arguments must be picklable
(a module-level function); rank 0's return value comes back to the caller.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

from flash.fabric import group
from flash.fabric.environment import free_port


def spawn(build: Callable[[], Any], function: Callable[..., Any], args: tuple, kwargs: dict, nprocs: int) -> Any:
    """Run ``function(fabric, *args, **kwargs)`` in ``nprocs`` new processes, ``fabric = build()`` in each."""
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    port = free_port()
    mp.start_processes(_worker, args=(nprocs, port, build, function, args, kwargs, results), nprocs=nprocs,
                       start_method="spawn", join=True)
    # plain pickle bytes: torch's own pickler would share tensors through the exited worker's memory
    return pickle.loads(results.get()) if not results.empty() else None


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
        raise
    if local_rank == 0:
        results.put(pickle.dumps(output))
