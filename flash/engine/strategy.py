"""How the model is spread over devices: one device, DDP, or FSDP2, on torch.distributed.

``strategy="ddp"`` with ``devices=N`` launches N-1 extra processes running the same script
(this process becomes rank 0), or adopts an environment set up by ``torchrun`` or SLURM.
"""

from __future__ import annotations

import atexit
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist

from flash.errors import ConfigurationError, invalid_choice

StrategyName = Literal["auto", "single", "ddp", "fsdp"]
STRATEGIES = ("auto", "single", "ddp", "ddp_find_unused_parameters_true", "fsdp")


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _relaunch_command() -> list[str]:
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


class Strategy:
    """One process, one device. Collectives are identities. Subclasses override what they change."""

    name = "single"
    is_distributed = False

    def __init__(self) -> None:
        self.env = ClusterEnv()
        self.device = torch.device("cpu")
        self.children: list[subprocess.Popen] = []

    # -- setup ---------------------------------------------------------------------------------
    def setup_environment(self, accelerator: str, device_indices: list[int], num_nodes: int) -> None:
        from flash.engine.accelerator import device_for

        self.device = device_for(accelerator, device_indices[0])

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module | None:
        """Move ``module`` to the device in place; return a wrapper that runs training steps, or None."""
        module.to(self.device)
        return None

    def teardown(self) -> None:
        pass

    # -- properties ------------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self.env.rank

    @property
    def world_size(self) -> int:
        return self.env.world_size

    @property
    def is_global_zero(self) -> bool:
        return self.env.rank == 0

    # -- collectives -----------------------------------------------------------------------------
    def barrier(self) -> None:
        pass

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def all_gather_object(self, obj: Any) -> list[Any]:
        return [obj]

    def broadcast_object(self, obj: Any) -> Any:
        return obj

    # -- state -----------------------------------------------------------------------------------
    def model_state_dict(self, module: torch.nn.Module) -> dict[str, Any]:
        return module.state_dict()

    def optimizer_state_dict(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_model_state_dict(self, module: torch.nn.Module, state: dict[str, Any]) -> None:
        module.load_state_dict(state)

    def load_optimizer_state_dict(self, module, optimizer, state) -> None:
        optimizer.load_state_dict(state)

    def no_backward_sync(self, wrapped: torch.nn.Module, enabled: bool):
        import contextlib

        return contextlib.nullcontext()

    def training_step(self, wrapped: torch.nn.Module, module: torch.nn.Module, batch: Any, batch_idx: int) -> Any:
        """Run ``module.training_step`` through the wrapper, so gradient hooks (DDP) fire."""
        return module.training_step(batch, batch_idx)


class _StepDispatcher(torch.nn.Module):
    """Lets DDP's forward run ``training_step`` (DDP only syncs what goes through ``forward``)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any, batch_idx: int) -> Any:
        return self.module.training_step(batch, batch_idx)


class DDPStrategy(Strategy):
    """Data parallel over processes (gloo on CPU, nccl on CUDA)."""

    name = "ddp"
    is_distributed = True

    def setup_environment(self, accelerator, device_indices, num_nodes):
        from flash.engine.accelerator import device_for

        env = detect_cluster_env()
        if env is None:
            env = self._launch(len(device_indices), num_nodes)
        self.env = env
        local_index = device_indices[env.local_rank % len(device_indices)]
        self.device = device_for(accelerator, local_index)
        if accelerator == "cuda":
            torch.cuda.set_device(self.device)
        local_world = max(1, env.world_size // max(1, num_nodes))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
        if not dist.is_initialized():
            os.environ.setdefault("MASTER_ADDR", env.master_addr)
            os.environ.setdefault("MASTER_PORT", str(env.master_port))
            backend = "nccl" if accelerator == "cuda" else "gloo"
            dist.init_process_group(backend, rank=env.rank, world_size=env.world_size)

    def _launch(self, n: int, num_nodes: int) -> ClusterEnv:
        if num_nodes > 1:
            raise ConfigurationError(
                f"num_nodes={num_nodes} needs a cluster launcher: start each node with "
                "`torchrun --nnodes=... --node_rank=... --master_addr=...` or under SLURM `srun`."
            )
        env = ClusterEnv(rank=0, local_rank=0, world_size=n, master_port=_free_port(), source="flash")
        if n == 1:
            return env
        command = _relaunch_command()
        for local_rank in range(1, n):
            child_env = dict(os.environ)
            child_env.update(
                RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(n),
                MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port), FLASH_LAUNCHED="1",
            )
            self.children.append(subprocess.Popen(command, env=child_env))
        atexit.register(self._reap_children)
        os.environ.update(MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port))
        return env

    def __init__(self, *, find_unused_parameters: bool = False) -> None:
        super().__init__()
        self.find_unused_parameters = find_unused_parameters

    def wrap(self, module):
        from torch.nn.parallel import DistributedDataParallel

        module = module.to(self.device)
        if self.world_size == 1 or not any(p.requires_grad for p in module.parameters()):
            return None
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(_StepDispatcher(module), device_ids=device_ids,
                                       find_unused_parameters=self.find_unused_parameters)

    def training_step(self, wrapped, module, batch, batch_idx):
        return wrapped(batch, batch_idx)

    def no_backward_sync(self, wrapped, enabled):
        import contextlib

        if enabled and hasattr(wrapped, "no_sync"):
            return wrapped.no_sync()
        return contextlib.nullcontext()

    def _reap_children(self) -> None:
        """At rank 0's exit: close the process group (a worker still blocked in a collective then fails
        instead of hanging) and wait for the workers this process launched."""
        if dist.is_initialized():
            dist.destroy_process_group()
        for child in self.children:
            code = child.wait()
            if code != 0:
                print(f"flash: worker process {child.pid} exited with code {code}.", file=sys.stderr)
        self.children.clear()

    def barrier(self):
        if dist.is_initialized():
            dist.barrier()

    def all_reduce_sum(self, tensor):
        if dist.is_initialized() and self.world_size > 1:
            device = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
            reduced = tensor.detach().to(device).clone()
            dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
            return reduced.to(tensor.device)
        return tensor

    def all_gather_object(self, obj):
        if not (dist.is_initialized() and self.world_size > 1):
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj):
        if not (dist.is_initialized() and self.world_size > 1):
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


class FSDPStrategy(DDPStrategy):
    """Fully sharded data parallel with FSDP2 (``torch.distributed.fsdp.fully_shard``)."""

    name = "fsdp"

    def wrap(self, module):
        try:
            from torch.distributed.fsdp import fully_shard
        except ImportError as err:
            raise ConfigurationError(
                f"strategy='fsdp' needs FSDP2 (torch.distributed.fsdp.fully_shard, torch>=2.6); "
                f"this torch is {torch.__version__}. Upgrade torch or use strategy='ddp'."
            ) from err
        module.to(self.device)
        for child in module.modules():
            layers = (torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)
            if child is not module and isinstance(child, layers):
                fully_shard(child)
        fully_shard(module)
        from torch.distributed.fsdp import register_fsdp_forward_method

        for name in ("training_step", "validation_step", "test_step", "predict_step"):
            if callable(getattr(module, name, None)):
                register_fsdp_forward_method(module, name)
        return None

    def training_step(self, wrapped, module, batch, batch_idx):
        return module.training_step(batch, batch_idx)

    def no_backward_sync(self, wrapped, enabled):
        import contextlib

        return contextlib.nullcontext()

    def _options(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)

    def model_state_dict(self, module):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(module, options=self._options())

    def optimizer_state_dict(self, module, optimizer):
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(module, optimizer, options=self._options())

    def load_model_state_dict(self, module, state):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=False))

    def load_optimizer_state_dict(self, module, optimizer, state):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(module, optimizer, state, options=StateDictOptions(full_state_dict=True))


def get_strategy(strategy: str | Strategy, *, num_processes: int) -> Strategy:
    """Resolve ``"auto" | "single" | "ddp" | "fsdp"`` (or a Strategy object)."""
    if isinstance(strategy, Strategy):
        return strategy
    name = str(strategy).lower()
    if name not in STRATEGIES:
        raise invalid_choice("strategy", strategy, STRATEGIES)
    if name == "auto":
        name = "ddp" if num_processes > 1 or detect_cluster_env() is not None else "single"
    if name == "single" and num_processes > 1:
        raise ConfigurationError(
            f"strategy='single' runs one process on one device, but {num_processes} devices were requested. "
            "Use strategy='ddp' (or 'auto'), or devices=1. Received: strategy='single'"
        )
    if name == "ddp_find_unused_parameters_true":
        return DDPStrategy(find_unused_parameters=True)
    return {"single": Strategy, "ddp": DDPStrategy, "fsdp": FSDPStrategy}[name]()
