"""Where this process sits among the others: standalone, under torchrun / SLURM, or launched by flash.

The one place the cluster's environment variables are read; :class:`~flash.fabric.strategy.ParallelStrategy`
joins what it finds or launches the processes itself.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass

from flash.errors import ConfigurationError


@dataclass
class ClusterEnv:
    """Where this process sits: global rank, local rank, world size, and the rendezvous address."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    source: str = "local"  # "local" | "torchrun" | "slurm" | "flash"


def _first_slurm_host(nodelist: str) -> str:
    """``"node[03-05,7],gpu1"`` -> ``"node03"``."""
    first = re.split(r",(?![^\[]*\])", nodelist)[0]
    match = re.match(r"^(.*?)\[(\d+)", first)
    return match.group(1) + match.group(2) if match else first


def detect_cluster_env() -> ClusterEnv | None:
    """The environment of torchrun / flash's launcher / SLURM, or None when run standalone."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return ClusterEnv(
            rank=int(env["RANK"]),
            local_rank=int(env.get("LOCAL_RANK", 0)),
            world_size=int(env["WORLD_SIZE"]),
            node_rank=int(env.get("GROUP_RANK", env.get("NODE_RANK", 0))),
            master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
            master_port=int(env.get("MASTER_PORT", 29500)),
            source="flash" if env.get("FLASH_LAUNCHED") else "torchrun",
        )
    if "SLURM_NTASKS" in env and "SLURM_PROCID" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return ClusterEnv(
            rank=int(env["SLURM_PROCID"]),
            local_rank=int(env.get("SLURM_LOCALID", 0)),
            world_size=int(env["SLURM_NTASKS"]),
            node_rank=int(env.get("SLURM_NODEID", 0)),
            master_addr=env.get("MASTER_ADDR") or _first_slurm_host(env.get("SLURM_NODELIST", "127.0.0.1")),
            master_port=int(env.get("MASTER_PORT", 12910 + int(env.get("SLURM_JOB_ID", "0")[-4:] or 0) % 1000)),
            source="slurm",
        )
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relaunch_command() -> list[str]:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in (None, "__main__"):
        name = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return [sys.executable, "-m", name, *sys.argv[1:]]
    if not sys.argv or sys.argv[0] in ("", "-c") or not os.path.isfile(sys.argv[0]):
        raise ConfigurationError(
            "strategy='ddp' with several devices starts one process per device by re-running your script, "
            "but this process was not started from a script (notebook or `python -c`). Put the code in a "
            "script, or start it with `torchrun --nproc_per_node=N script.py`. "
            f"Received: sys.argv={sys.argv!r}"
        )
    return [sys.executable, *sys.argv]
