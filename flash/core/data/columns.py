"""Samples kept column by column: a list of paths (or texts), an array of label ids, metadata columns.

A sample dict (``{"input": ..., "target": ..., "metadata": {...}}``) is built only when it is read, so a
data set of a million rows costs its columns (a path string and an 8-byte label id per row), not a
million dicts. ``Input.load_data`` may return a :class:`SampleColumns` instead of a list of dicts;
every ``Input`` method works on either.

Example:
    >>> columns = SampleColumns(["a.png", "b.png"], ["cat", "dog"], metadata={"filepath": INPUT})
    >>> columns[1]
    {'input': 'b.png', 'target': 'dog', 'metadata': {'filepath': 'b.png'}}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from flash.core.targets import TargetFormatter
from flash.errors import DataError

INPUT, TARGET, METADATA = "input", "target", "metadata"


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (an ``int`` label id stays an ``int``)."""
    return value.item() if isinstance(value, np.generic) else value


class SampleColumns(Sequence):
    """Equal-length columns of samples; ``columns[i]`` builds sample ``i``'s dict.

    Args:
        inputs: one input per sample (paths, texts, row indices).
        targets: one raw target per sample (a list), label ids (a NumPy array), or None.
        metadata: ``{key: column}``; the column ``INPUT`` means "the input itself" (a file path),
            a ``range`` costs nothing (the row numbers).
    """

    def __init__(self, inputs: Sequence[Any], targets: Sequence[Any] | None = None, *,
                 metadata: Mapping[str, Sequence[Any] | str] | None = None) -> None:
        self.inputs = inputs
        self.targets = targets
        self.metadata = dict(metadata or {})
        for key, column in self.metadata.items():
            if not isinstance(column, str) and len(column) != len(inputs):
                raise ValueError(f"metadata column {key!r} has {len(column)} values for {len(inputs)} inputs")

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = int(index)
        value = self.inputs[index]
        meta = {key: value if isinstance(column, str) else _plain(column[index])
                for key, column in self.metadata.items()}
        target = None if self.targets is None else _plain(self.targets[index])
        return {INPUT: value, TARGET: target, METADATA: meta}

    def select(self, keep: Sequence[int]) -> SampleColumns:
        """The samples at positions ``keep`` (in that order), as new columns."""
        def take(column: Any) -> Any:
            if isinstance(column, str):
                return column
            if isinstance(column, np.ndarray):
                return column[np.asarray(keep, dtype=np.int64)]
            return [column[i] for i in keep]

        targets = None if self.targets is None else take(self.targets)
        return SampleColumns(take(self.inputs), targets, metadata={k: take(c) for k, c in self.metadata.items()})

    def has_targets(self) -> bool:
        if self.targets is None or len(self.targets) == 0:
            return False
        if isinstance(self.targets, np.ndarray):
            return self.targets.dtype.kind in "iuf" or not any(t is None for t in self.targets)
        return None not in self.targets  # compared in C

    def nbytes(self) -> int:
        """An estimate of the memory the columns hold (strings, lists, arrays), for benchmarks."""
        import sys

        total = 0
        for column in (self.inputs, self.targets, *self.metadata.values()):
            if column is None or isinstance(column, (str, range)):
                continue
            if isinstance(column, np.ndarray):
                total += column.nbytes
                continue
            total += sys.getsizeof(column)
            total += sum(sys.getsizeof(v) for v in column if isinstance(v, str))
        return total


def distinct_targets(targets: Sequence[Any]) -> list[Any] | None:
    """The distinct targets in first-seen order, or None when they cannot stand for the whole column.

    ``TargetFormatter.infer`` reaches the same result from the distinct values as from the whole column
    (it looks at the set of labels, their types and range), except for its report of missing values,
    which counts rows: with a missing value (or unhashable targets such as lists) the caller passes all.
    """
    if isinstance(targets, np.ndarray) and targets.dtype.kind in "iub":
        return [v.item() for v in np.unique(targets)]
    try:
        values = list(dict.fromkeys(targets))
    except TypeError:  # lists / arrays per sample (multi-label)
        return None
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None
    return values


def format_column(formatter: TargetFormatter, targets: Sequence[Any], where: Callable[[int], str]) -> Any:
    """Every target of a column formatted: an int64 array of class ids (single label) or a list (multi-label).

    ``where(i)`` says where row ``i`` is (a file and row); it is called only for a row that fails, so good
    rows cost no message. The error is the formatter's own, for the first bad row.
    """
    if not formatter.multi_label:
        ids = _class_ids(formatter, targets)
        if ids is not None:
            bad = np.flatnonzero(ids < 0)
            if bad.size == 0:
                return ids
            formatter(targets[int(bad[0])], where=where(int(bad[0])))  # raises the formatter's own message
    formatted = []
    for row, target in enumerate(targets):
        try:
            formatted.append(formatter(target, where="the data"))
        except DataError:
            formatter(target, where=where(row))  # raises again, now naming the row
            raise
    if not formatter.multi_label and all(isinstance(v, int) for v in formatted):
        return np.asarray(formatted, dtype=np.int64)
    return formatted


def _class_ids(formatter: TargetFormatter, targets: Sequence[Any]) -> np.ndarray | None:
    """Class ids of single-label names or indices, -1 where a target is unknown; None: take the slow path."""
    if formatter.kind == "names":
        lookup = {name: i for i, name in enumerate(formatter.labels or [])}
        try:
            try:  # every label known: a lookup in C per row
                return np.fromiter(map(lookup.__getitem__, targets), dtype=np.int64, count=len(targets))
            except KeyError:
                return np.fromiter((lookup.get(t, -1) for t in targets), dtype=np.int64, count=len(targets))
        except TypeError:  # unhashable targets (lists): the formatter reads them one by one
            return None
    if formatter.kind != "indices":
        return None
    array = np.asarray(targets)
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        return None
    if array.dtype.kind == "f" and not (np.isfinite(array).all() and (array == np.round(array)).all()):
        return None
    ids = array.astype(np.int64)
    ids[(ids < 0) | (ids >= formatter.num_classes)] = -1
    return ids
