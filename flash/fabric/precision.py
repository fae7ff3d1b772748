"""Numerical precision plugins: a no-op base and mixed / true half precision.

``Precision`` does nothing; a subclass overrides only what it changes. All string parsing is
in :func:`get_precision`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal, cast, get_args

import torch

from flash.errors import ConfigurationError, invalid_choice
from flash.fabric.data import apply_to_tensors

PrecisionName = Literal["32-true", "16-mixed", "bf16-mixed", "bf16-true", "64-true"]
MixedName = Literal["16-mixed", "bf16-mixed"]

_ALIASES = {
    "32": "32-true", "32-true": "32-true", 32: "32-true",
    "64": "64-true", "64-true": "64-true", 64: "64-true",
    "16": "16-mixed", "16-mixed": "16-mixed", 16: "16-mixed",
    "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed",
    "bf16-true": "bf16-true",
}
PRECISIONS: tuple[str, ...] = get_args(PrecisionName)


class Precision:
    """Full precision: every hook is a no-op. Subclasses override what they change."""

    name = "32-true"

    @property
    def has_autocast(self) -> bool:
        """Whether ``autocast`` does anything; the loops skip the context manager when not."""
        return type(self).autocast is not Precision.autocast

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module

    def convert_input(self, batch: Any) -> Any:
        """Cast the batch's floating-point tensors to the parameters' dtype (true-precision modes)."""
        return batch

    def autocast(self, device_type: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring gradients to their true scale (before clipping)."""

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Step the optimizer; return whether a step really happened."""
        optimizer.step()
        return True

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _cast_floating(batch: Any, dtype: torch.dtype) -> Any:
    return apply_to_tensors(batch, lambda tensor: tensor.to(dtype) if tensor.is_floating_point() else tensor)


class DoublePrecision(Precision):
    name = "64-true"

    def convert_module(self, module):
        return module.double()

    def convert_input(self, batch):
        return _cast_floating(batch, torch.float64)


class MixedPrecision(Precision):
    """Autocast to float16 (with a GradScaler) or bfloat16 (no scaler needed)."""

    def __init__(self, precision: MixedName = "bf16-mixed", device_type: str = "cpu") -> None:
        if precision not in ("16-mixed", "bf16-mixed"):
            raise invalid_choice("precision", precision, ("16-mixed", "bf16-mixed"))
        self.name = precision
        self.dtype = torch.float16 if precision == "16-mixed" else torch.bfloat16
        self.scaler = torch.amp.GradScaler(device_type) if precision == "16-mixed" else None
        self._unscaled = False

    def autocast(self, device_type):
        return torch.autocast(device_type=device_type, dtype=self.dtype)

    def backward(self, loss):
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer):
        if self.scaler is not None and not self._unscaled:
            self.scaler.unscale_(optimizer)
            self._unscaled = True

    def step(self, optimizer):
        if self.scaler is None:
            optimizer.step()
            return True
        scale_before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        self._unscaled = False
        # the scaler skips the step (and lowers its scale) when gradients were inf/NaN
        return self.scaler.get_scale() >= scale_before

    def state_dict(self):
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, state):
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


class HalfPrecision(Precision):
    """Parameters and activations in bfloat16 ("bf16-true"): least memory, no autocast."""

    name = "bf16-true"

    def convert_module(self, module):
        return module.to(torch.bfloat16)

    def convert_input(self, batch):
        return _cast_floating(batch, torch.bfloat16)


def get_precision(precision: PrecisionName | str | int | Precision, *, device_type: str = "cpu") -> Precision:
    """Resolve ``"32-true" | "16-mixed" | "bf16-mixed" | "bf16-true" | "64-true"`` (or a Precision)."""
    if isinstance(precision, Precision):
        return precision
    name = _ALIASES.get(precision if isinstance(precision, int) else str(precision))
    if name is None:
        raise invalid_choice("precision", precision, PRECISIONS)
    if name == "32-true":
        return Precision()
    if name == "64-true":
        return DoublePrecision()
    if name == "bf16-true":
        return HalfPrecision()
    if name == "16-mixed" and device_type == "mps":
        raise ConfigurationError("precision='16-mixed' is not supported on MPS; use 'bf16-mixed' or '32-true'.")
    return MixedPrecision(cast(MixedName, name), device_type=device_type)
