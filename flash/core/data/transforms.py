"""``ApplyToKeys``: apply a transform to one key (or several keys) of a sample dict, as in Lightning Flash."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class ApplyToKeys:
    """``ApplyToKeys("input", fn)(sample)`` replaces ``sample["input"]`` with ``fn(sample["input"])``.

    With several keys, ``fn`` gets (and returns) their values as a tuple. Missing keys are left alone.

    Example:
        >>> ApplyToKeys("input", str.upper)({"input": "a", "target": 1})
        {'input': 'A', 'target': 1}
    """

    def __init__(self, keys: str | Sequence[str], *transforms: Callable) -> None:
        self.keys = keys
        self.transforms = transforms

    def _apply(self, value: Any) -> Any:
        for transform in self.transforms:
            value = transform(value)
        return value

    def __call__(self, sample: dict) -> dict:
        keys = [self.keys] if isinstance(self.keys, str) else list(self.keys)
        present = [k for k in keys if k in sample and sample[k] is not None]
        if not present:
            return sample
        out = dict(sample)
        if len(present) == 1 and isinstance(self.keys, str):
            out[present[0]] = self._apply(sample[present[0]])
        else:
            for key, value in zip(present, self._apply(tuple(sample[k] for k in present))):
                out[key] = value
        return out

    def __repr__(self) -> str:
        return f"ApplyToKeys(keys={self.keys!r}, transforms={list(self.transforms)!r})"


__all__ = ["ApplyToKeys"]
