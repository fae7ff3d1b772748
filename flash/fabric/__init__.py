"""``flash.fabric``: Lightning Fabric's API, the layer under the engine: devices, precision, strategies,
collectives and checkpoint I/O. ``flash.Trainer`` runs on it; a hand-written loop can too.

Code written for Lightning Fabric runs with one changed import::

    from flash.fabric import Fabric, seed_everything

Names are imported on first use, so ``import flash.fabric`` loads no torch.
"""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY = {
    "Fabric": "flash.fabric.fabric",
    "seed_everything": "flash.fabric.seed",
    "Strategy": "flash.fabric.strategy",
    "DDPStrategy": "flash.fabric.strategy",
    "FSDPStrategy": "flash.fabric.strategy",
    "Precision": "flash.fabric.precision",
    "MixedPrecision": "flash.fabric.precision",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
