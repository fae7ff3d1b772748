"""What ``Fabric.setup*`` returns: the module, optimizer and DataLoader, wrapped so they behave like the originals.

- :class:`FabricModule`: ``forward`` (and any other method, e.g. ``training_step``) runs under the precision's
  autocast, through the strategy's wrapper (DDP) so gradients are synchronised; attributes, ``state_dict`` and
  ``load_state_dict`` are the original module's.
- :class:`FabricOptimizer`: an instance of the original optimizer's class; ``step`` goes through the precision
  (the float16 GradScaler), everything else is the original optimizer's.
- :class:`FabricDataLoader`: iterates the (sharded) loader and puts each batch on the device.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, SequentialSampler

from flash.errors import ConfigurationError
from flash.fabric.data import apply_to_tensors
from flash.fabric.precision import Precision

# methods of the module that must not be redirected through the strategy's forward
_NOT_REDIRECTED = frozenset({"forward", "state_dict", "load_state_dict", "parameters", "named_parameters",
                             "buffers", "named_buffers", "children", "named_children", "modules", "named_modules",
                             "train", "eval", "to", "cpu", "cuda", "float", "double", "half", "bfloat16",
                             "zero_grad", "requires_grad_", "apply", "register_buffer", "register_parameter",
                             "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
                             "add_module", "get_submodule", "get_parameter", "extra_repr"})


def to_device(obj: Any, device: torch.device) -> Any:
    """``obj`` (a tensor, a module, or a collection of tensors) on ``device``."""
    if isinstance(obj, torch.nn.Module):
        return obj.to(device)
    return apply_to_tensors(obj, lambda tensor: tensor.to(device, non_blocking=True))


def _float_output(output: Any) -> Any:
    dtype = torch.get_default_dtype()
    return apply_to_tensors(output, lambda t: t.to(dtype) if t.is_floating_point() and t.dtype != dtype else t)


class FabricModule(torch.nn.Module):
    """The set-up module: calls go through ``forward_module`` (the strategy's wrapper) under the precision."""

    def __init__(self, forward_module: torch.nn.Module, original: torch.nn.Module, precision: Precision,
                 device_type: str) -> None:
        super().__init__()
        self._forward_module = forward_module
        self._original_module = original
        self._precision = precision
        self._device_type = device_type
        self._converts = type(precision) is not Precision  # base precision: nothing to convert

    @property
    def module(self) -> torch.nn.Module:
        """The original module."""
        return self._original_module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self._converts:
            return self._forward_module(*args, **kwargs)
        args, kwargs = self._precision.convert_input((args, kwargs))
        with self._precision.autocast(self._device_type):
            output = self._forward_module(*args, **kwargs)
        return _float_output(output)

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return self._original_module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return self._original_module.load_state_dict(state_dict, strict=strict, assign=assign)

    def _redirected(self, name: str) -> Callable[..., Any]:
        """``original.<name>(...)`` run through ``self.forward``, so DDP sees it as a forward pass."""
        original = self._original_module

        def call(*args: Any, **kwargs: Any) -> Any:
            own_forward = original.forward

            def as_forward(*a: Any, **k: Any) -> Any:
                original.forward = own_forward  # back before the real call
                return getattr(original, name)(*a, **k)

            original.forward = as_forward
            try:
                return self.forward(*args, **kwargs)
            finally:
                if "forward" in original.__dict__:
                    del original.forward
        return call

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)  # this wrapper's own submodules
        except AttributeError:
            pass
        original = super().__getattr__("_original_module")
        value = getattr(original, name)
        if name in _NOT_REDIRECTED or not inspect.ismethod(value) or value.__self__ is not original:
            return value
        if self._forward_module is original and not self._converts:
            return value  # nothing to add: the plain method
        return self._redirected(name)  # through the strategy's wrapper (DDP) and the precision's autocast

    def __setattr__(self, name: str, value: Any) -> None:
        original = self.__dict__.get("_modules", {}).get("_original_module")
        if original is None or name.startswith("_") or name in self.__dict__ or not hasattr(original, name):
            super().__setattr__(name, value)
        else:
            setattr(original, name, value)  # e.g. model.threshold = 0.5 changes the original module


class FabricOptimizer:
    """The set-up optimizer: an instance of the original's class sharing its state; ``step`` uses the precision."""

    def __init__(self, optimizer: torch.optim.Optimizer, precision: Precision) -> None:
        self.__dict__ = {k: v for k, v in optimizer.__dict__.items() if k not in ("step", "__del__")}
        self.__class__ = type("Fabric" + type(optimizer).__name__, (self.__class__, type(optimizer)), {})
        self._optimizer = optimizer
        self._precision = precision

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The original optimizer."""
        return self._optimizer

    def state_dict(self) -> dict[str, Any]:
        return self._optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._optimizer.load_state_dict(state_dict)
        self.__dict__.update(state=self._optimizer.state, param_groups=self._optimizer.param_groups)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._precision.step(self._optimizer)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)


def follow_parameters(optimizer: torch.optim.Optimizer, replaced: dict[int, tuple[Any, torch.nn.Parameter]]) -> None:
    """Point ``optimizer`` at the new parameters where setting the module up replaced them (FSDP2's ``fully_shard``
    makes sharded ones): ``replaced`` maps ``id(old)`` to ``(weakref to old, new)``."""
    for group in optimizer.param_groups if replaced else ():
        new = [replaced[id(p)][1] if id(p) in replaced and replaced[id(p)][0]() is p else p for p in group["params"]]
        if any(old is not p and old in optimizer.state for old, p in zip(group["params"], new)):
            raise ConfigurationError(
                f"This {type(optimizer).__name__} has already stepped the module's unsharded parameters, which "
                "setting the module up replaced. Set up a fresh optimizer, or create it after "
                "model = fabric.setup_module(model). Received: an optimizer with state"
            )
        group["params"] = new


def distributed_loader(loader: DataLoader, *, rank: int, world_size: int, seed: int) -> DataLoader:
    """``loader`` rebuilt with a ``DistributedSampler`` (shuffled when the original shuffled); kept as it is when
    its dataset is iterable or its sampler custom."""
    if isinstance(loader.dataset, IterableDataset) or loader.batch_size is None:
        return loader
    if not isinstance(loader.sampler, (RandomSampler, SequentialSampler)):
        return loader
    sampler: DistributedSampler = DistributedSampler(loader.dataset, num_replicas=world_size, rank=rank,
                                 shuffle=isinstance(loader.sampler, RandomSampler), seed=seed)
    kwargs: dict[str, Any] = dict(batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                                  collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
                                  drop_last=loader.drop_last, timeout=loader.timeout,
                                  worker_init_fn=loader.worker_init_fn)
    if loader.num_workers > 0:
        kwargs.update(prefetch_factor=loader.prefetch_factor, persistent_workers=loader.persistent_workers,
                      multiprocessing_context=loader.multiprocessing_context)
    return DataLoader(loader.dataset, **kwargs)


class FabricDataLoader:
    """Iterates ``loader``; each batch on ``device`` (None: as loaded). A ``DistributedSampler`` gets
    ``set_epoch(n)`` at the n-th iteration, so every epoch reshuffles the same way on every process."""

    def __init__(self, loader: Any, device: torch.device | None) -> None:
        self._dataloader = loader
        self._device = device
        self._epoch = 0

    @property
    def device(self) -> torch.device | None:
        return self._device

    def __len__(self) -> int:
        return len(self._dataloader)

    def __iter__(self) -> Iterator[Any]:
        sampler = getattr(self._dataloader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self._epoch)
        self._epoch += 1
        move = None if self._device is None else functools.partial(to_device, device=self._device)
        for batch in self._dataloader:
            yield batch if move is None else move(batch)

    def __getattr__(self, name: str) -> Any:
        if name == "_dataloader":
            raise AttributeError(name)
        return getattr(self._dataloader, name)
