"""Find the largest batch that fits: grow it while trial steps fit, narrow down, then keep a margin.

"Fits" means: on a GPU, a few training steps run without running out of memory (the error is caught, the
cache freed, and the search backs off); on a CPU, where running out of memory means swapping or being
killed, the memory a trial step needs stays within a budget (by default half the RAM available when the
search starts). A CPU step's memory is measured on the trial step itself: the tensors autograd keeps for
the backward pass, plus parameters, gradients and optimizer state.

Example:
    >>> result = search_batch_size(lambda size: size <= 40, init_val=4, max_val=1000, margin=0.1)
    >>> result.largest, result.batch_size
    (40, 36)
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

from flash.engine.callbacks import Callback
from flash.errors import ConfigurationError


@dataclass
class BatchSizeResult:
    """The chosen ``batch_size`` (``largest`` that fitted, less the margin) and every trial: size -> fitted."""

    batch_size: int
    largest: int
    trials: dict[int, bool] = field(default_factory=dict)
    memory: dict[int, int] = field(default_factory=dict)  # size -> bytes a step took (when measured)
    budget: int | None = None


def search_batch_size(fits: Callable[[int], bool], *, init_val: int = 2, max_val: int | None = None,
                      max_trials: int = 25, mode: Literal["power", "binsearch"] = "binsearch",
                      margin: float = 0.1) -> BatchSizeResult:
    """Double from ``init_val`` while ``fits(size)``, then (``mode="binsearch"``) bisect up to the first failure.

    ``max_val`` caps the search (a batch larger than the training set is pointless); the result is the largest
    size that fitted times ``1 - margin``, at least 1.
    """
    if mode not in ("power", "binsearch"):
        raise ConfigurationError(f"mode must be 'power' or 'binsearch'. Received: mode={mode!r}")
    if not 0.0 <= margin < 1.0:
        raise ConfigurationError(f"margin must be in [0, 1). Received: margin={margin!r}")
    if not isinstance(init_val, int) or init_val < 1:
        raise ConfigurationError(f"init_val must be an int >= 1. Received: init_val={init_val!r}")
    trials: dict[int, bool] = {}

    def trial(size: int) -> bool:
        trials[size] = fits(size)
        return trials[size]

    size, low, high = min(init_val, max_val or init_val), 0, None
    while len(trials) < max_trials:
        if trial(size):
            low = size
            size = min(size * 2, max_val) if max_val is not None else size * 2
            if size == low or (high is not None and size >= high):  # at the cap, or below a size that failed
                break
        elif low == 0 and size > 1:  # even the first size failed: halve down
            high, size = size, size // 2
        else:
            high = size
            break
    while mode == "binsearch" and high is not None and high - low > 1 and len(trials) < max_trials:
        middle = (low + high) // 2
        low, high = (middle, high) if trial(middle) else (low, middle)
    if low == 0:
        raise ConfigurationError(
            "Not even a batch of 1 sample fits in memory. Use a smaller model or inputs, a lower precision "
            "(--trainer.precision bf16-mixed), or more memory. Received: batch sizes tried "
            f"{sorted(trials)}"
        )
    return BatchSizeResult(batch_size=max(1, int(low * (1.0 - margin))), largest=low, trials=trials)


def available_memory() -> int | None:
    """Bytes of RAM available to new allocations now (None when the platform does not say)."""
    try:  # Linux: what the kernel estimates new allocations can get (free + reclaimable caches)
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a device running out of memory (CUDA, MPS, cuDNN or a CPU allocation)."""
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    markers = ("out of memory", "CUDNN_STATUS_NOT_SUPPORTED", "DefaultCPUAllocator: can't allocate")
    return isinstance(error, RuntimeError) and any(marker in str(error) for marker in markers)


def free_memory() -> None:
    """Drop what a failed trial left behind, so the next one starts from an unfragmented cache."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


def _tensor_bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


class MemoryProbe(Callback):
    """Measure a training step's memory on the CPU: saved activations + parameters + gradients + optimizer state.

    Activations are counted by a saved-tensors hook between batch start and batch end (each storage once,
    parameters excluded); the largest step of the trial is kept in ``peak``.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._hooks = None
        self._storages: dict[int, int] = {}
        self._parameters: set[int] = set()

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        try:
            storage = tensor.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
        except (RuntimeError, NotImplementedError):  # a tensor without a plain storage
            key, size = id(tensor), _tensor_bytes(tensor)
        if key not in self._parameters:
            self._storages[key] = size
        return tensor

    def on_train_batch_start(self, trainer, module, batch, batch_idx: int) -> None:
        self.close()
        self._parameters = {p.untyped_storage().data_ptr() for p in module.parameters()}
        self._storages = {}
        hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        hooks.__enter__()
        self._hooks = hooks  # type: ignore[assignment]

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        self.close()  # the backward pass is done: gradients exist, activations are counted
        grads = sum(_tensor_bytes(p.grad) for p in module.parameters() if p.grad is not None)
        states = sum(_tensor_bytes(v) for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v))
        if not states:  # the first step creates the state: Adam keeps two tensors per trained parameter
            states = 2 * grads
        params = sum(_tensor_bytes(p) for p in module.parameters())
        self.peak = max(self.peak, sum(self._storages.values()) + params + grads + states)

    def close(self) -> None:
        """Leave the saved-tensors hook (also after a step that raised)."""
        if self._hooks is not None:
            self._hooks.__exit__(None, None, None)
            self._hooks = None
