"""Walking nested data (dicts, lists, tuples): the one way to map the tensors of a batch (``apply_to_tensors``,
which lives in the engine, the lowest layer, so the batch mover uses it too), and the one way to turn values
into plain Python that a checkpoint (``weights_only=True``) or JSON can hold.

Example:
    >>> import torch
    >>> batch = {"input": torch.ones(2, 3), "target": [torch.tensor(1)], "metadata": [{"row": 0}]}
    >>> apply_to_tensors(batch, lambda t: t.double())["input"].dtype
    torch.float64
    >>> to_plain({"mean": (0.5, 0.5), 1: True})
    {'mean': [0.5, 0.5], '1': True}
"""

from __future__ import annotations

from typing import Any

from flash.engine.data import apply_to_tensors

__all__ = ["NotPlainError", "apply_to_tensors", "to_plain"]

_SCALARS = (str, int, float, bool, type(None))


class NotPlainError(ValueError):
    """A value that has no plain-Python form (``to_plain(..., strict=True)``)."""


def to_plain(value: Any, *, strict: bool = False) -> Any:
    """``value`` as plain Python: str/int/float/bool/None, lists (from lists and tuples), dicts with str keys.

    NumPy and torch scalars/arrays become Python numbers/lists (``tolist()``). Anything else becomes
    its ``repr``, or raises :class:`NotPlainError` when ``strict`` (e.g. to leave it out of a checkpoint).
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, strict=strict) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, strict=strict) for k, v in value.items()}
    if callable(getattr(value, "tolist", None)):
        return to_plain(value.tolist(), strict=strict)
    if strict:
        raise NotPlainError(f"{type(value).__name__} has no plain-Python form. Received: value={value!r}")
    return repr(value)
