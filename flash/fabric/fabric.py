"""``Fabric``: Lightning Fabric's API on flash's own devices, precisions, strategies and checkpoints.

Code written for Lightning Fabric runs with one changed import (``from flash.fabric import Fabric``).
The flags are parsed by the same functions as ``flash.Trainer``'s (which runs on a Fabric).

Example:
    >>> import torch
    >>> from flash.fabric import Fabric
    >>> fabric = Fabric(accelerator="cpu", devices=1)
    >>> fabric.launch()
    >>> model = torch.nn.Linear(4, 1)
    >>> model, optimizer = fabric.setup(model, torch.optim.SGD(model.parameters(), lr=0.1))
    >>> loss = model(torch.randn(8, 4)).pow(2).mean()
    >>> fabric.backward(loss)
    >>> optimizer.step()
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from flash.errors import CheckpointError, ConfigurationError
from flash.fabric import checkpoint as checkpoint_io
from flash.fabric import sharded
from flash.fabric.accelerator import resolve_accelerator, resolve_devices
from flash.fabric.data import apply_to_tensors
from flash.fabric.environment import detect_cluster_env
from flash.fabric.hooks import call_hook, scalars
from flash.fabric.precision import DoublePrecision, HalfPrecision, MixedPrecision, Precision, get_precision
from flash.fabric.seed import global_seed, seed_everything
from flash.fabric.strategy import Strategy, StrategyName, get_strategy
from flash.fabric.wrappers import FabricDataLoader, FabricModule, FabricOptimizer, distributed_loader, to_device


def _as_list(value: Any) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _check_precision(precision: Any, accelerator: str) -> Precision:
    resolved = get_precision(precision, device_type=accelerator)
    fp16 = isinstance(resolved, MixedPrecision) and resolved.scaler is not None
    if fp16 and accelerator == "cpu" and not isinstance(precision, Precision):
        raise ConfigurationError(
            "precision='16-mixed' (float16 autocast with a gradient scaler) needs a CUDA GPU; on CPU use "
            f"precision='bf16-mixed', or accelerator='cuda'. Received: precision={precision!r}, accelerator='cpu'"
        )
    return resolved


class Fabric:
    """Devices, precision, processes and checkpoints for a training loop you write yourself.

    Arguments as Lightning Fabric's: ``accelerator`` (``"auto"``, ``"cpu"``, ``"cuda"``, ``"gpu"``, ``"mps"``),
    ``devices`` (``"auto"``, a count, or indices), ``strategy`` (``"auto"``, ``"ddp"``, ``"ddp_spawn"``,
    ``"fsdp"`` or a Strategy), ``precision`` (``"32-true"``, ``"bf16-mixed"``, ``"16-mixed"``, ``"bf16-true"``,
    ``"64-true"`` or a Precision), ``num_nodes``, ``callbacks`` (objects whose methods :meth:`call` runs) and
    ``loggers`` (flash loggers, for :meth:`log`). ``plugins`` is accepted for compatibility and must be None.
    """

    def __init__(self, *, accelerator: str = "auto", strategy: StrategyName | Strategy = "auto",
                 devices: int | str | list[int] = "auto", num_nodes: int = 1, precision: Any = "32-true",
                 plugins: Any = None, callbacks: Any = None, loggers: Any = None) -> None:
        if plugins is not None:
            raise ConfigurationError(f"flash.fabric takes no plugins; pass precision=... or strategy=... objects "
                                     f"instead. Received: plugins={plugins!r}")
        self._init_kwargs = dict(accelerator=accelerator, strategy=strategy, devices=devices, num_nodes=num_nodes,
                                 precision=precision, callbacks=callbacks, loggers=loggers)
        self._accelerator = resolve_accelerator(accelerator)
        self._device_indices = resolve_devices(devices, self._accelerator)
        self._num_nodes = num_nodes
        self._strategy = get_strategy(strategy, num_processes=len(self._device_indices) * num_nodes)
        self._precision = _check_precision(precision, self._accelerator)
        self._callbacks = _as_list(callbacks)
        self._loggers = _as_list(loggers)
        self._launched = False
        self._module_of_param: dict[int, torch.nn.Module] = {}  # id(parameter) -> the set-up (original) module
        self._loaders_set_up = 0
        self._log_step = 0  # log() calls so far: the step of one that gives none

    # ------------------------------------------------------------------ properties
    @property
    def accelerator(self) -> str:
        return self._accelerator

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    @property
    def precision(self) -> Precision:
        return self._precision

    @property
    def device(self) -> torch.device:
        return self._strategy.device

    @property
    def global_rank(self) -> int:
        return self._strategy.rank

    @property
    def local_rank(self) -> int:
        return self._strategy.env.local_rank

    @property
    def node_rank(self) -> int:
        return self._strategy.env.node_rank

    @property
    def world_size(self) -> int:
        return self._strategy.world_size

    @property
    def is_global_zero(self) -> bool:
        return self._strategy.is_global_zero

    @property
    def loggers(self) -> list:
        return self._loggers

    @property
    def logger(self) -> Any:
        return self._loggers[0] if self._loggers else None

    @property
    def device_indices(self) -> list[int]:
        return self._device_indices

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    # ------------------------------------------------------------------ processes
    def launch(self, function: Callable[..., Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        """Start the processes (or join those of torchrun / SLURM), then run ``function(self, *args, **kwargs)``.

        ``"ddp"`` re-runs the script in the other processes; ``"ddp_spawn"`` starts new processes that run
        ``function`` (required there). Returns what ``function`` returned (rank 0's under ``"ddp_spawn"``).
        """
        if self._launched:
            raise ConfigurationError("fabric.launch() was already called on this Fabric; call it once, before setup.")
        spawning = getattr(self._strategy, "start_method", None) == "spawn" and detect_cluster_env() is None
        processes = len(self._device_indices) * self._num_nodes
        if spawning and processes > 1:
            if function is None:
                raise ConfigurationError("strategy='ddp_spawn' starts new processes that run a function: pass it, "
                                         "fabric.launch(train) with def train(fabric): ... Received: function=None")
            from flash.fabric.launcher import spawn

            return spawn(functools.partial(Fabric, **self._init_kwargs), function, args, kwargs, processes)
        self._strategy.setup_environment(self._accelerator, self._device_indices, self._num_nodes)
        self._launched = True
        if self._strategy.rank != 0:
            self._loggers = []  # only rank 0 logs
        return function(self, *args, **kwargs) if function is not None else None

    def _ensure_launched(self) -> None:
        if not self._launched:  # Lightning launches by itself for one process; so does flash
            self.launch()

    # ------------------------------------------------------------------ setup
    def setup(self, module: torch.nn.Module, *optimizers: torch.optim.Optimizer, move_to_device: bool = True) -> Any:
        """Set up ``module`` and its ``optimizers``; returns the module, or ``(module, *optimizers)``."""
        wrapped = self.setup_module(module, move_to_device=move_to_device)
        if not optimizers:
            return wrapped
        set_up = self.setup_optimizers(*optimizers)
        return (wrapped, *(set_up if isinstance(set_up, tuple) else (set_up,)))

    def setup_module(self, module: torch.nn.Module, *, move_to_device: bool = True) -> FabricModule:
        """``module`` converted to the precision, on the device, wrapped by the strategy (DDP)."""
        self._ensure_launched()
        if isinstance(module, FabricModule):
            raise ConfigurationError(f"This module was already set up; set up the original once. "
                                     f"Received: module={type(module.module).__name__} (set up)")
        self._precision.convert_module(module)
        forward_module = self._strategy.setup_module(module) if move_to_device else module
        self._module_of_param.update((id(p), module) for p in module.parameters())
        return FabricModule(forward_module, module, self._precision, self.device.type)

    def setup_optimizers(self, *optimizers: torch.optim.Optimizer) -> Any:
        """The optimizers wrapped (one, or a tuple); their module must be set up first."""
        wrapped = []
        for optimizer in optimizers:
            optimizer = self._strategy.setup_optimizer(optimizer)
            params = [p for group in optimizer.param_groups for p in group["params"]]
            if not any(id(p) in self._module_of_param for p in params):
                raise ConfigurationError(
                    f"This {type(optimizer).__name__}'s parameters belong to no module set up with this Fabric. "
                    "Set the module up first: model, optimizer = fabric.setup(model, optimizer), or "
                    "model = fabric.setup_module(model) before fabric.setup_optimizers(optimizer). "
                    f"Received: optimizer={type(optimizer).__name__}"
                )
            wrapped.append(FabricOptimizer(optimizer, self._precision))
        return wrapped[0] if len(wrapped) == 1 else tuple(wrapped)

    def setup_dataloaders(self, *dataloaders: DataLoader, use_distributed_sampler: bool = True,
                          move_to_device: bool = True) -> Any:
        """The loaders sharded over the processes (a ``DistributedSampler``) and yielding batches on the device."""
        self._ensure_launched()
        wrapped = []
        for loader in dataloaders:
            if use_distributed_sampler and self.world_size > 1:
                loader = distributed_loader(loader, rank=self.global_rank, world_size=self.world_size,
                                            seed=global_seed())
            device = self.device if move_to_device and self.device.type != "cpu" else None
            wrapped.append(FabricDataLoader(loader, device))
        self._loaders_set_up += len(wrapped)
        return wrapped[0] if len(wrapped) == 1 else wrapped

    # ------------------------------------------------------------------ the step
    def backward(self, tensor: torch.Tensor, *args: Any, model: Any = None, **kwargs: Any) -> None:
        """``tensor.backward()`` through the precision (the float16 scaler)."""
        if not self._module_of_param:
            raise ConfigurationError("fabric.backward(loss) was called before any module was set up. Set the model "
                                     "up first: model, optimizer = fabric.setup(model, optimizer). "
                                     "Received: no module set up")
        if self.world_size > 1 and not self._loaders_set_up:
            raise ConfigurationError(
                f"fabric.backward(loss) under {self._strategy.name} with {self.world_size} processes, but no "
                "DataLoader was set up: every process would train on the same data. Use "
                "loader = fabric.setup_dataloaders(loader) (use_distributed_sampler=False if you shard it yourself)."
            )
        self._precision.backward(tensor)

    def clip_gradients(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, clip_val: float | None = None,
                       max_norm: float | None = None, norm_type: float = 2.0,
                       error_if_nonfinite: bool = True) -> torch.Tensor | None:
        """Clip by value (``clip_val``) or by total norm (``max_norm``: returns the norm before clipping)."""
        if (clip_val is None) == (max_norm is None):
            raise ConfigurationError(f"Pass exactly one of clip_val or max_norm. Received: clip_val={clip_val!r}, "
                                     f"max_norm={max_norm!r}")
        inner = optimizer.optimizer if isinstance(optimizer, FabricOptimizer) else optimizer
        self._precision.unscale(inner)
        params = [p for group in inner.param_groups for p in group["params"] if p.grad is not None]
        if clip_val is not None:
            torch.nn.utils.clip_grad_value_(params, clip_val)
            return None
        return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type,  # type: ignore[arg-type]
                                              error_if_nonfinite=error_if_nonfinite)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The precision's autocast, for code outside the set-up module's ``forward``."""
        return self._precision.autocast(self.device.type)

    def to_device(self, obj: Any) -> Any:
        return to_device(obj, self.device)

    @contextlib.contextmanager
    def no_backward_sync(self, module: torch.nn.Module, enabled: bool = True) -> Iterator[None]:
        """Skip the gradient all-reduce inside the block (accumulating under DDP)."""
        if not isinstance(module, FabricModule):
            raise ConfigurationError("fabric.no_backward_sync(model) needs the set-up model: model = "
                                     f"fabric.setup(model, ...). Received: model={type(module).__name__}")
        with self._strategy.no_backward_sync(module._forward_module, enabled):
            yield

    @contextlib.contextmanager
    def init_module(self, empty_init: bool | None = None) -> Iterator[None]:
        """Create the module's parameters on the device, in the precision's dtype (true-precision modes)."""
        self._ensure_launched()
        dtype = {HalfPrecision: torch.bfloat16, DoublePrecision: torch.float64}.get(type(self._precision))
        previous = torch.get_default_dtype()
        with self.device:
            if dtype is not None:
                torch.set_default_dtype(dtype)
            try:
                yield
            finally:
                torch.set_default_dtype(previous)

    # ------------------------------------------------------------------ processes talking
    def print(self, *args: Any, **kwargs: Any) -> None:
        if self.is_global_zero:
            print(*args, **kwargs)

    def barrier(self, name: str | None = None) -> None:
        self._strategy.barrier()

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return self._strategy.broadcast_object(obj, src)

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        """Every process's tensors stacked on a new first dimension (numbers become tensors)."""
        return _apply(data, self.device, self._strategy.all_gather)

    def all_reduce(self, data: Any, group: Any = None, reduce_op: str = "mean") -> Any:
        return _apply(data, self.device, lambda t: self._strategy.all_reduce(t, reduce_op))

    @contextlib.contextmanager
    def rank_zero_first(self, local: bool = False) -> Iterator[None]:
        """Rank 0 (``local``: each node's) runs the block first, e.g. to download; the others follow."""
        first = (self.local_rank if local else self.global_rank) == 0
        if not first:
            self.barrier()
        yield
        if first:
            self.barrier()

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike, state: Mapping[str, Any], filter: Any = None) -> None:
        """Save ``state``: modules and optimizers as state dicts, objects with ``state_dict()`` too, other values
        as they are; ``filter[key](name, value)`` picks the entries kept of ``key``'s state dict. A flash
        checkpoint (atomic, versioned, read back with ``weights_only=True``); collective. Under
        ``FSDPStrategy(state_dict_type="sharded")``: a directory, one file of shards per process (``sharded.py``)."""
        local = sharded.writes_sharded(self._strategy)
        checkpoint = {key: self._state_of(value, local=local) for key, value in state.items()}
        for key, keep in (filter or {}).items():  # e.g. {"model": lambda name, value: "lora" in name}
            checkpoint[key] = {name: value for name, value in checkpoint[key].items() if keep(name, value)}
        sharded.write(checkpoint, path, self._strategy, sharded=local)  # FSDP "sharded": a directory, one file a rank

    def load(self, path: str | os.PathLike, state: dict[str, Any] | None = None, strict: bool = True) -> dict:
        """Restore ``state``'s modules, optimizers and values in place from ``path``; return what it did not restore
        (everything when ``state`` is None)."""
        checkpoint, local = sharded.read(path, self._strategy)  # a file, or this rank's part of a sharded directory
        if state is None:
            return checkpoint
        missing = [key for key in state if key not in checkpoint]
        if strict and missing:
            raise CheckpointError(f"'{path}' has no {missing} (it holds {sorted(checkpoint)}). Pass only the keys "
                                  f"it has, or strict=False. Received: state keys {sorted(state)}")
        for key in [key for key in state if key in checkpoint]:
            state[key] = self._restore(state[key], checkpoint.pop(key), strict=strict, local=local)
        return checkpoint

    def load_raw(self, path: str | os.PathLike, obj: Any, strict: bool = True) -> None:
        """Load a plain ``torch.save(model.state_dict())`` file (read with ``weights_only=True``) into ``obj``."""
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CheckpointError(f"File not found: '{path}'. Received: path='{path}'") from None
        except Exception as err:
            raise CheckpointError(checkpoint_io.load_error_message(path, err)) from None
        self._restore(obj, raw, strict=strict)

    def _state_of(self, value: Any, *, local: bool) -> Any:
        if isinstance(value, torch.nn.Module):
            module = value.module if isinstance(value, FabricModule) else value
            return self._strategy.model_state_dict(module, local=local)
        if isinstance(value, torch.optim.Optimizer):
            inner = value.optimizer if isinstance(value, FabricOptimizer) else value
            return self._strategy.optimizer_state_dict(self._optimizer_module(inner), inner, local=local)
        if callable(getattr(value, "state_dict", None)):
            return value.state_dict()
        return value

    def _restore(self, target: Any, saved: Any, *, strict: bool, local: bool = False) -> Any:
        if isinstance(target, torch.nn.Module):
            module = target.module if isinstance(target, FabricModule) else target
            self._strategy.load_model_state_dict(module, saved, strict=strict, local=local)
        elif isinstance(target, torch.optim.Optimizer):
            inner = target.optimizer if isinstance(target, FabricOptimizer) else target
            self._strategy.load_optimizer_state_dict(self._optimizer_module(inner), inner, saved, local=local)
            if isinstance(target, FabricOptimizer):
                target.load_state_dict(inner.state_dict())
        elif callable(getattr(target, "load_state_dict", None)):
            target.load_state_dict(saved)
        else:
            return saved  # a plain value: replaced in the state dict
        return target

    def _optimizer_module(self, optimizer: torch.optim.Optimizer) -> Any:
        """The set-up module whose parameters ``optimizer`` steps (FSDP's state dicts need it)."""
        params = (p for group in optimizer.param_groups for p in group["params"])
        return next((self._module_of_param[id(p)] for p in params if id(p) in self._module_of_param), None)

    # ------------------------------------------------------------------ loggers and callbacks
    seed_everything = staticmethod(seed_everything)  # fabric.seed_everything(42), as in Lightning

    def log(self, name: str, value: Any, step: int | None = None) -> None:
        self.log_dict({name: value}, step=step)

    def log_dict(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Send ``metrics`` (numbers or one-element tensors) to every logger (rank 0 only). Without ``step``, the
        step is the number of earlier log calls (Lightning's auto-increment "by one with every log call")."""
        values, step = scalars(metrics), self._log_step if step is None else step
        self._log_step += 1
        for logger in self._loggers:
            logger.log_metrics(values, step)

    def call(self, hook_name: str, *args: Any, **kwargs: Any) -> None:
        """Run ``hook_name(*args, **kwargs)`` on every callback that has it, in the order given; keyword arguments
        a callback's method does not take (and has no ``**kwargs`` for) are left out, as in Lightning."""
        call_hook(self._callbacks, hook_name, args, kwargs)

def _apply(data: Any, device: torch.device, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        data = torch.tensor(data, device=device)
    return apply_to_tensors(data, fn)
