"""Keep what the last validation pass produced, so a report needs no second prediction pass.

Tasks return their evaluation outputs from ``validation_step`` (a classifier ``{"preds", "target"}``, other tasks
their own keys); what to keep from them, and which sections they make, is the task's ``report`` adapter
(ARCHITECTURE.md, "Adding a task"). :class:`Collected` finds that adapter for the model being validated,
makes one part of it per validation pass and hands it every batch's outputs.

Example:
    >>> import torch
    >>> collected = Collected()
    >>> collected.add(None, {"loss": torch.tensor(1.0)}, {})  # no adapter takes these outputs
    >>> collected.empty
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flash.errors import ConfigurationError


class Collected:
    """The outputs of one validation pass, kept by the task's report adapter (``part``; None until one matched)."""

    def __init__(self) -> None:
        self.part: Any = None

    @property
    def empty(self) -> bool:
        """True when no validation outputs were kept (no validation data, or outputs no report adapter takes)."""
        return self.part is None

    def add(self, module: Any, outputs: Any, batch: Any) -> None:
        """Keep one validation batch's outputs (``outputs`` is what ``validation_step`` returned)."""
        if not isinstance(outputs, Mapping):
            return
        if self.part is None:
            adapter = report_adapter(module, outputs)
            if adapter is None:
                return
            self.part = adapter()
        if set(self.part.outputs) <= set(outputs):
            self.part.add(module, outputs, batch)

    @classmethod
    def merged(cls, parts: list[Collected]) -> Collected:
        """One pass's outputs from every process (each saw its shard of the validation data)."""
        whole = cls()
        kept = [part.part for part in parts if part.part is not None]
        if kept:
            whole.part = type(kept[0]).merged(kept)
        return whole


def report_adapter(module: Any, outputs: Mapping[str, Any]) -> Any:
    """The report adapter for ``module``'s validation ``outputs``, or None.

    The adapter of the task entry whose model class ``module`` is (or derives from); for a model no entry names
    (a user's own ``Task``), the first adapter of ``flash.tasks.ENTRIES`` whose ``outputs`` keys are all present.
    """
    from flash.tasks import ENTRIES

    classes = {f"{c.__module__}:{c.__qualname__}" for c in type(module).__mro__} if module is not None else set()
    owner = next((entry for entry in ENTRIES if entry.model in classes), None)
    if owner is not None:
        adapter = owner.adapter("report") if owner.has_adapter("report") else None
        return adapter if adapter is not None and set(adapter.outputs) <= set(outputs) else None
    return next((adapter for adapter in _adapters() if set(adapter.outputs) <= set(outputs)), None)


def _adapters() -> Iterator[Any]:
    from flash.tasks import ENTRIES

    for entry in ENTRIES:
        if entry.has_adapter("report"):
            try:
                yield entry.adapter("report")
            except ConfigurationError:  # the task's extra is not installed: its outputs cannot come up either
                continue
