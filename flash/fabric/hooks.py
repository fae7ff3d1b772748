"""What ``Fabric.call`` and ``Fabric.log_dict`` do, as Lightning Fabric does it."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch


def accepted_kwargs(method: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``method`` takes: all of them if it has ``**kwargs``, else those it names.

    Example:
        >>> accepted_kwargs(lambda loss: None, {"loss": 1.0, "outputs": None})
        {'loss': 1.0}
    """
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): pass everything
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return kwargs
    names = {p.name for p in parameters}
    return {name: value for name, value in kwargs.items() if name in names}


def call_hook(callbacks: Iterable[Any], hook_name: str, args: tuple, kwargs: dict[str, Any]) -> None:
    """Run ``hook_name`` on every callback that has it, in order, each given only the keyword arguments it takes."""
    for callback in callbacks:
        method = getattr(callback, hook_name, None)
        if method is None:
            continue
        if not callable(method):
            warnings.warn(f"Skipping {type(callback).__name__}.{hook_name}: it is not callable. Received: "
                          f"{hook_name}={method!r}", stacklevel=3)
            continue
        method(*args, **accepted_kwargs(method, kwargs))


def scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` with one-element tensors turned into Python numbers (``.item()``); other values as they are."""
    values = {}
    for name, value in metrics.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(f"fabric.log_dict: metric '{name}' has {value.numel()} elements; log one number "
                                 f"(e.g. value.mean()). Received: {name} of shape {tuple(value.shape)}")
            value = value.item()
        values[name] = value
    return values
