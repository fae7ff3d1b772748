"""Seeding and the capture / restore of every random number generator."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

_SEED_ENV = "FLASH_GLOBAL_SEED"


def seed_everything(seed: int | None = None, *, workers: bool = True) -> int:
    """Seed Python, NumPy and torch (all devices) and remember the seed for samplers and workers.

    Example:
        >>> seed_everything(42)
        42
    """
    if seed is None:
        seed = int(os.environ.get(_SEED_ENV, 0))
    seed = int(seed)
    os.environ[_SEED_ENV] = str(seed)
    os.environ["FLASH_SEED_WORKERS"] = "1" if workers else "0"
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def global_seed() -> int:
    """The seed given to ``seed_everything`` (0 if it was never called)."""
    return int(os.environ.get(_SEED_ENV, 0))


def recorded_seed() -> int | None:
    """The seed given to ``seed_everything`` in this process (or inherited from its launcher), None if none was."""
    value = os.environ.get(_SEED_ENV)
    return int(value) if value is not None else None


def worker_init_fn(worker_id: int) -> None:
    """Seed Python and NumPy in a DataLoader worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def rng_state() -> dict:
    """All generator states as a dict that ``torch.load(weights_only=True)`` accepts."""
    version, keys, gauss = random.getstate()
    np_state: Any = np.random.get_state()  # the legacy tuple (kind, keys, pos, has_gauss, cached_gaussian)
    state = {
        "python": {"version": version, "state": list(keys), "gauss": gauss},
        "numpy": {
            "kind": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
