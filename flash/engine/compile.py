"""``Trainer(compile=...)``: ``torch.compile`` the model's forward, in place.

``nn.Module.compile`` keeps the module, its parameters and its ``state_dict`` keys, so checkpoints,
callbacks and the optimizer see the same model; the forward is compiled on its first call (and again
for evaluation mode). Off by default. Measured on 2 quiet CPU cores (torch 2.14, MobileNetV2, batch 32, 96 px;
benchmarks/README.md): the first step compiles for 42-67 s (2-5 s once inductor's on-disk cache holds the
graphs); then a frozen-backbone step takes 42-51 ms instead of 94 (channels-last) or 135 (contiguous), while
full training gains nothing steady (234-305 ms against 277-291). So it pays off on long frozen-backbone runs
only; the canonical two-epoch fine-tune computes for less time than the compilation takes.
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
