"""Walking nested data (dicts, lists, tuples): the one way to map the tensors of a batch, and the one
way to turn values into plain Python that a checkpoint (``weights_only=True``) or JSON can hold.

Example:
    >>> import torch
    >>> batch = {"input": torch.ones(2, 3), "target": [torch.tensor(1)], "metadata": [{"row": 0}]}
    >>> apply_to_tensors(batch, lambda t: t.double())["input"].dtype
    torch.float64
    >>> to_plain({"mean": (0.5, 0.5), 1: True})
    {'mean': [0.5, 0.5], '1': True}
"""

from __future__ import annotations

from typing import Any, Callable

import torch

_SCALARS = (str, int, float, bool, type(None))


def apply_to_tensors(data: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """``data`` with ``fn`` applied to every tensor inside dicts, lists, tuples and namedtuples.

    The containers keep their type; anything else (strings, numbers, metadata) is returned as is.
    """
    if isinstance(data, torch.Tensor):
        return fn(data)
    if isinstance(data, dict):
        return {key: apply_to_tensors(value, fn) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        items = [apply_to_tensors(value, fn) for value in data]
        if hasattr(data, "_fields"):  # a namedtuple
            return type(data)(*items)
        return tuple(items) if isinstance(data, tuple) else items
    return data


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
