"""``Trainer(compile=...)``: ``torch.compile`` the model's forward, in place.

``nn.Module.compile`` keeps the module, its parameters and its ``state_dict`` keys, so checkpoints,
callbacks and the optimizer see the same model; the forward is compiled on its first call (and again
for evaluation mode). Off by default: measured on 2 CPU cores (torch 2.14, MobileNetV2, batch 32, 96 px;
benchmarks/README.md) the first step takes 13-60 s to compile, so it pays off only on long runs; with
channels-last weights a frozen-backbone step went from 99 ms to 54 ms, a contiguous one got slower.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from flash.errors import ConfigurationError


def compile_options(value: Any) -> dict[str, Any] | None:
    """``False``/None: off; ``True``: ``torch.compile``'s defaults; a dict: its keyword arguments (checked)."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        known = set(inspect.signature(torch.compile).parameters) - {"model"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigurationError(f"compile got unknown torch.compile argument(s) {unknown}; known: "
                                     f"{sorted(known)}. Received: compile={value!r}")
        return dict(value)
    raise ConfigurationError("compile must be True, False, or a dict of torch.compile arguments such as "
                             f"{{'mode': 'max-autotune'}}. Received: compile={value!r}")


def compile_in_place(module: torch.nn.Module, options: dict[str, Any] | None) -> None:
    """Compile ``module``'s forward once (a module compiled already, with any options, is left as it is)."""
    if options is None or getattr(module, "_compiled_call_impl", None) is not None:
        return
    module.compile(**options)
