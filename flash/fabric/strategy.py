"""How the model is spread over devices: one device, DDP, or FSDP2, on torch.distributed.

``strategy="ddp"`` with ``devices=N`` launches N-1 extra processes running the same script
(this process becomes rank 0), or adopts an environment set up by ``torchrun`` or SLURM;
``"ddp_spawn"`` starts N new processes that run a function (``Fabric.launch(fn)``, see ``launcher.py``).
``wrap`` is how the Trainer trains (``training_step`` through the wrapper); ``setup_module`` is Fabric's
(``forward`` through it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import weakref
from typing import Any, Literal, get_args

import torch
import torch.distributed as dist

from flash.errors import ConfigurationError, invalid_choice
from flash.fabric import group, sharded
from flash.fabric.environment import ClusterEnv, detect_cluster_env, free_port, relaunch_command
from flash.fabric.wrappers import follow_parameters

StrategyName = Literal["auto", "single", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "fsdp"]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)


class Strategy:
    """One process, one device. Collectives are identities. Subclasses override what they change."""

    name = "single"
    is_distributed = False
    forward_is_collective = False  # whether every process must run as many forward passes (FSDP: yes)

    def __init__(self) -> None:
        self.env = ClusterEnv()
        self.device = torch.device("cpu")
        self.children: list[subprocess.Popen] = []

    # -- setup ---------------------------------------------------------------------------------
    def setup_environment(self, accelerator: str, device_indices: list[int], num_nodes: int) -> None:
        from flash.fabric.accelerator import device_for

        self.device = device_for(accelerator, device_indices[0])

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module | None:
        """Move ``module`` to the device in place; return a wrapper that runs training steps, or None."""
        module.to(self.device)
        return None

    def setup_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """Move ``module`` to the device; return what runs its ``forward`` (the module itself, or a DDP wrapper)."""
        return module.to(self.device)

    def setup_optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """``optimizer`` ready to step the set-up module's parameters."""
        return optimizer

    def rewrap(self, module: torch.nn.Module, wrapped: torch.nn.Module | None) -> torch.nn.Module | None:
        """The wrapper to train with from now on (called each epoch, after callbacks may have (un)frozen layers)."""
        return wrapped

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

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        return obj

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` of every process stacked: ``(world_size, *tensor.shape)``; one process: ``tensor`` itself."""
        return tensor

    def all_reduce(self, tensor: torch.Tensor, op: str = "mean") -> torch.Tensor:
        """``tensor`` reduced over the processes with ``op`` (``"sum"``, ``"mean"``, ``"max"``, ``"min"``)."""
        return tensor

    # -- state -----------------------------------------------------------------------------------
    # ``local``: this process's shards only (FSDP ``state_dict_type="sharded"``); one process holds everything here
    def model_state_dict(self, module: torch.nn.Module, *, local: bool = False) -> dict[str, Any]:
        return module.state_dict()

    def optimizer_state_dict(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, *,
                             local: bool = False) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_model_state_dict(self, module: torch.nn.Module, state: dict[str, Any], *, strict: bool = True,
                              local: bool = False) -> None:
        module.load_state_dict(state, strict=strict)

    def load_optimizer_state_dict(self, module, optimizer, state, *, local: bool = False) -> None:
        optimizer.load_state_dict(state)

    def no_backward_sync(self, wrapped: torch.nn.Module, enabled: bool):

        return contextlib.nullcontext()

    def training_step(self, wrapped: torch.nn.Module, module: torch.nn.Module, batch: Any, batch_idx: int) -> Any:
        """Run ``module.training_step`` through the wrapper, so gradient hooks (DDP) fire."""
        return module.training_step(batch, batch_idx)


def _trainable(module: torch.nn.Module) -> tuple[bool, ...]:
    return tuple(p.requires_grad for p in module.parameters())


class _StepDispatcher(torch.nn.Module):
    """Lets DDP's forward run ``training_step`` (DDP only syncs what goes through ``forward``)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any, batch_idx: int) -> Any:
        return self.module.training_step(batch, batch_idx)


class ParallelStrategy(Strategy):
    """Several processes over torch.distributed (gloo on CPU, nccl on CUDA): the environment, the launcher
    and the collectives. :class:`DDPStrategy` and :class:`FSDPStrategy` add how the model is spread."""

    is_distributed = True

    def setup_environment(self, accelerator, device_indices, num_nodes):
        from flash.fabric.accelerator import device_for

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
            group.close_at_exit()

    def _launch(self, n: int, num_nodes: int) -> ClusterEnv:
        if num_nodes > 1:
            raise ConfigurationError(
                f"num_nodes={num_nodes} needs a cluster launcher: start each node with "
                "`torchrun --nnodes=... --node_rank=... --master_addr=...` or under SLURM `srun`."
            )
        env = ClusterEnv(rank=0, local_rank=0, world_size=n, master_port=free_port(), source="flash")
        if n == 1:
            return env
        command = relaunch_command()
        for local_rank in range(1, n):
            child_env = dict(os.environ)
            child_env.update(
                RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(n),
                MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port), FLASH_LAUNCHED="1",
            )
            self.children.append(subprocess.Popen(command, env=child_env))
        atexit.register(self._reap_children)
        # this process is rank 0 from now on, as its workers see it: a second Fabric (or Trainer) made in this
        # script joins the same processes instead of launching more (Lightning sets LOCAL_RANK etc. likewise)
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(n), FLASH_LAUNCHED="1",
                          MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port))
        return env

    def _reap_children(self) -> None:
        """At rank 0's exit: close the process group (a worker still blocked in a collective then fails
        instead of hanging; a no-op when group.close, registered later and so run first, has) and wait for the
        workers this process launched."""
        group.close()
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

    def broadcast_object(self, obj, src=0):
        if not (dist.is_initialized() and self.world_size > 1):
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def _collective_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def all_gather(self, tensor):
        if not (dist.is_initialized() and self.world_size > 1):
            return tensor
        local = tensor.detach().to(self._collective_device()).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        return torch.stack(parts).to(tensor.device)

    def all_reduce(self, tensor, op="mean"):
        ops = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
        if op not in ops:
            raise invalid_choice("reduce_op", op, tuple(ops))
        if not (dist.is_initialized() and self.world_size > 1):
            return tensor
        reduced = tensor.detach().to(self._collective_device()).clone()
        if op == "mean" and not reduced.is_floating_point():
            reduced = reduced.float()
        dist.all_reduce(reduced, op=ops[op])
        if op == "mean":
            reduced = reduced / self.world_size
        return reduced.to(tensor.device)


class DDPStrategy(ParallelStrategy):
    """Data parallel: a full model per process, gradients all-reduced in backward."""

    name = "ddp"

    def __init__(self, *, find_unused_parameters: bool = False, start_method: str = "script") -> None:
        super().__init__()
        self.find_unused_parameters = find_unused_parameters
        # "script": re-run the script in N-1 more processes (ddp); "spawn": N new processes run a function
        self.start_method = start_method
        if start_method == "spawn":
            self.name = "ddp_spawn"
        self._trainable: tuple[bool, ...] = ()  # which parameters were trainable when DDP wrapped the model

    def wrap(self, module):
        from torch.nn.parallel import DistributedDataParallel

        module = module.to(self.device)
        self._trainable = _trainable(module)
        if self.world_size == 1 or not any(p.requires_grad for p in module.parameters()):
            return None
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(_StepDispatcher(module), device_ids=device_ids,
                                       find_unused_parameters=self.find_unused_parameters)

    def setup_module(self, module):
        from torch.nn.parallel import DistributedDataParallel

        module = module.to(self.device)
        if self.world_size == 1 or not any(p.requires_grad for p in module.parameters()):
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids,
                                       find_unused_parameters=self.find_unused_parameters)

    def rewrap(self, module, wrapped):
        """DDP fixes its parameter set when it wraps: wrap again when a finetuning callback (un)froze layers."""
        if self.world_size > 1 and _trainable(module) != self._trainable:
            return self.wrap(module)
        return wrapped

    def training_step(self, wrapped, module, batch, batch_idx):
        return wrapped(batch, batch_idx)

    def no_backward_sync(self, wrapped, enabled):

        if enabled and hasattr(wrapped, "no_sync"):
            return wrapped.no_sync()
        return contextlib.nullcontext()


class FSDPStrategy(ParallelStrategy):
    """Fully sharded data parallel with FSDP2 (``torch.distributed.fsdp.fully_shard``).

    ``state_dict_type`` is what ``fabric.save`` writes: ``"full"`` (default) one file of whole tensors gathered
    to rank 0, which every strategy, the Trainer and ``flash predict`` read; ``"sharded"`` a directory of one
    file per process, each holding only its shards (no gathering: for models too big for one device), which
    loads with the same number of processes (see :mod:`flash.fabric.sharded`). Lightning Fabric defaults to
    ``"sharded"``; flash keeps ``"full"`` because its Trainer and tools take single-file checkpoints.
    """

    name = "fsdp"
    forward_is_collective = True  # a forward gathers the shards: evaluation pads ranks with fewer batches

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

    def __init__(self, *, state_dict_type: Literal["full", "sharded"] = "full") -> None:
        super().__init__()
        self.state_dict_type = sharded.check_state_dict_type(state_dict_type)
        self._replaced: dict[int, tuple[Any, torch.nn.Parameter]] = {}  # id(unsharded) -> (weakref to it, sharded)

    def setup_module(self, module):
        before = dict(module.named_parameters())
        self.wrap(module)
        after = dict(module.named_parameters())
        self._replaced.update((id(p), (weakref.ref(p), after[n])) for n, p in before.items() if after.get(n) is not p)
        return module

    def setup_optimizer(self, optimizer):
        """An optimizer made before ``setup_module`` (``fabric.setup(model, optimizer)``) steps the sharded
        parameters from now on, as the unsharded ones it was given are gone."""
        follow_parameters(optimizer, self._replaced)
        return optimizer

    def model_state_dict(self, module, *, local=False):
        return sharded.model_state_dict(module, local=local)

    def optimizer_state_dict(self, module, optimizer, *, local=False):
        return sharded.optimizer_state_dict(module, optimizer, local=local)

    def load_model_state_dict(self, module, state, *, strict=True, local=False):
        sharded.load_model_state_dict(module, state, strict=strict, local=local)

    def load_optimizer_state_dict(self, module, optimizer, state, *, local=False):
        sharded.load_optimizer_state_dict(module, optimizer, state, local=local)


def get_strategy(strategy: StrategyName | Strategy, *, num_processes: int) -> Strategy:
    """Resolve a :data:`StrategyName` (or return a Strategy object as it is): the one place the flag is parsed."""
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
    if name == "ddp_spawn":
        return DDPStrategy(start_method="spawn")
    return {"single": Strategy, "ddp": DDPStrategy, "fsdp": FSDPStrategy}[name]()
