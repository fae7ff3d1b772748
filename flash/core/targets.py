"""Infer what the targets are (labels, ``num_classes``, multi-label) and turn them into tensors.

Accepted target forms, inferred from the training targets:
- class names (``"cat"``) or class indices (``3``);
- lists of names/indices per sample, comma-separated (``"cat,dog"``) or space-separated
  (``"cat dog"``) strings: multi-label;
- one-hot vectors (single label) and multi-hot vectors (multi-label).
The training set fixes the label set; other stages must use labels from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from flash.errors import DataError

Kind = str  # "names" | "indices" | "vectors"


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_python(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    return value


def _kind(value: Any) -> str:
    """The kind of a target value: "str", "list", "int", or its type's name."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    return "int" if _is_int(value) else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value.is_integer())


def _split_string(value: str, separator: str | None) -> list[str]:
    if separator is None:
        return [value.strip()]
    return [part.strip() for part in value.split(separator) if part.strip()]


@dataclass
class TargetFormatter:
    """Maps raw targets to class indices (single label) or multi-hot vectors (multi-label)."""

    kind: Kind
    num_classes: int
    multi_label: bool
    labels: list[str] | None = None
    separator: str | None = None

    # ------------------------------------------------------------------ inference
    @classmethod
    def infer(cls, targets: Sequence[Any], *, labels: Sequence[str] | None = None, multi_label: bool | None = None,
              where: str = "the training data") -> TargetFormatter:
        values = [_as_python(t) for t in targets]
        missing = [i for i, v in enumerate(values) if _is_missing(v)]
        if missing:
            raise DataError(f"{len(missing)} target(s) in {where} are missing (None/NaN), first at row {missing[0]}. "
                            "Fill them in or drop those rows.")
        if not values:
            raise DataError(f"No targets found in {where}: cannot infer the classes.")
        types = {_kind(v) for v in values}
        if len(types) > 1:
            examples = {t: next(v for v in values if _kind(v) == t) for t in types}
            raise DataError(
                f"Targets in {where} mix types {sorted(types)} (e.g. {examples}). "
                "Use one type: all class names or all indices."
            )
        kind = types.pop()
        if kind == "str":
            return cls._infer_strings(values, labels, multi_label)
        if kind == "int":
            top = int(max(values))
            if min(values) < 0:
                raise DataError(f"Class indices must be >= 0; {where} has {int(min(values))}.")
            return cls(
                "indices", len(labels) if labels else top + 1, bool(multi_label), list(labels) if labels else None
            )
        if kind == "list":
            return cls._infer_lists(values, labels, multi_label, where)
        raise DataError(
            f"Cannot use targets of type {kind!r} in {where} (e.g. {values[0]!r}); use class names or indices."
        )

    @classmethod
    def _infer_strings(cls, values, labels, multi_label) -> TargetFormatter:
        separator = None
        if any("," in v for v in values):
            separator = ","
        elif multi_label is not False and any(" " in v.strip() for v in values):
            tokens = {t for v in values for t in v.split()}
            if multi_label or len(tokens) < len(set(values)):
                separator = " "
        if multi_label is False:
            separator = None
        names = sorted({t for v in values for t in _split_string(v, separator)})
        if labels:
            names = list(labels)
        return cls("names", len(names), separator is not None or bool(multi_label), names, separator)

    @classmethod
    def _infer_lists(cls, values, labels, multi_label, where) -> TargetFormatter:
        flat = [x for v in values for x in v]
        if flat and all(isinstance(x, str) for x in flat):
            names = list(labels) if labels else sorted(set(flat))
            return cls("names", len(names), True, names)
        lengths = {len(v) for v in values}
        is_binary = all(x in (0, 1) for x in flat)
        if len(lengths) == 1 and is_binary and len(values[0]) > 1:
            one_hot = all(sum(v) == 1 for v in values)
            multi = bool(multi_label) if multi_label is not None else not one_hot
            return cls("vectors", lengths.pop(), multi, list(labels) if labels else None)
        if all(_is_int(x) for x in flat):
            top = int(max(flat)) if flat else 0
            return cls("indices", len(labels) if labels else top + 1, True, list(labels) if labels else None)
        raise DataError(
            f"Cannot read list targets in {where} (e.g. {values[0]!r}): use lists of names, of indices, or 0/1 vectors."
        )

    # ------------------------------------------------------------------ formatting
    def _index(self, value: Any, where: str) -> int:
        if self.kind == "names":
            if value not in self._lookup:
                raise DataError(
                    f"Unknown label {value!r} in {where}: the training data has {self.labels}. "
                    "Fix the label, or add examples of it to the training data."
                )
            return self._lookup[value]
        index = int(value)
        if not 0 <= index < self.num_classes:
            raise DataError(
                f"Class index {index} in {where} is outside 0..{self.num_classes - 1} (num_classes={self.num_classes})."
            )
        return index

    @property
    def _lookup(self) -> dict[str, int]:
        if not hasattr(self, "_cache"):
            self._cache = {name: i for i, name in enumerate(self.labels or [])}
        return self._cache

    def __call__(self, target: Any, *, where: str = "the data") -> torch.Tensor | int:
        """Class index (single label) or a float multi-hot vector ``(num_classes,)`` (multi-label)."""
        target = _as_python(target)
        if _is_missing(target):
            raise DataError(f"Missing target (None/NaN) in {where}. Fill it in or drop the row.")
        if self.kind == "vectors":
            vector = torch.as_tensor(target, dtype=torch.float32)
            if vector.shape != (self.num_classes,):
                raise DataError(f"Target vector in {where} has {vector.numel()} entries; expected {self.num_classes}.")
            return vector if self.multi_label else int(vector.argmax())
        if isinstance(target, str):
            items = _split_string(target, self.separator) if self.multi_label else [target]
        elif isinstance(target, (list, tuple)):
            items = list(target)
        else:
            items = [target]
        indices = [self._index(item, where) for item in items]
        if not self.multi_label:
            return indices[0]
        vector = torch.zeros(self.num_classes)
        vector[indices] = 1.0
        return vector

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "multi_label": self.multi_label,
            "labels": self.labels,
            "separator": self.separator,
        }
