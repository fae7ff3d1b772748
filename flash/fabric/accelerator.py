"""Which device to run on: ``"auto" | "cpu" | "cuda" | "mps"`` and how many of them."""

from __future__ import annotations

from typing import Literal

import torch

from flash.errors import ConfigurationError, invalid_choice

AcceleratorName = Literal["auto", "cpu", "cuda", "gpu", "mps"]
Devices = int | str | list | tuple

ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_accelerator(accelerator: str | torch.device) -> str:
    """Turn the user's accelerator argument into ``"cpu"``, ``"cuda"`` or ``"mps"``."""
    if isinstance(accelerator, torch.device):
        accelerator = accelerator.type
    name = str(accelerator).lower()
    if name not in ACCELERATORS:
        raise invalid_choice("accelerator", accelerator, ACCELERATORS)
    if name == "gpu":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cuda"
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(
            "accelerator='cuda' was requested but no CUDA device is available. "
            "Use accelerator='cpu' or 'auto'. Received: accelerator='cuda'"
        )
    if name == "mps" and not _mps_available():
        raise ConfigurationError(
            "accelerator='mps' was requested but MPS is not available. Received: accelerator='mps'"
        )
    return name


def resolve_devices(devices: Devices, accelerator: str) -> list[int]:
    """Device indices on this node: ``"auto"`` (1 on CPU, all GPUs), ``N``, ``-1``, ``"0,1"`` or ``[0, 1]``."""
    available = torch.cuda.device_count() if accelerator == "cuda" else 1
    if isinstance(devices, str):
        text = devices.strip()
        if text == "auto":
            return list(range(available)) if accelerator == "cuda" else [0]
        if "," in text:
            devices = [int(d) for d in text.split(",") if d.strip()]
        else:
            try:
                devices = int(text)
            except ValueError:
                raise ConfigurationError(
                    f"devices must be 'auto', an int, or a list of ints. Received: devices={devices!r}"
                ) from None
    if isinstance(devices, (list, tuple)):
        return [int(d) for d in devices]
    if isinstance(devices, int):
        if devices == -1:
            return list(range(available)) if accelerator == "cuda" else [0]
        if devices < 1:
            raise ConfigurationError(f"devices must be >= 1 or -1 (all). Received: devices={devices}")
        if accelerator == "cuda" and devices > available:
            raise ConfigurationError(
                f"devices={devices} but only {available} CUDA device(s) are visible. Received: devices={devices}"
            )
        return list(range(devices))
    raise ConfigurationError(f"devices must be 'auto', an int, or a list of ints. Received: devices={devices!r}")


def device_for(accelerator: str, index: int) -> torch.device:
    """The torch.device of the ``index``-th device of this accelerator."""
    if accelerator == "cuda":
        return torch.device("cuda", index)
    return torch.device(accelerator)
