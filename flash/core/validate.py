"""Checks on the layout of user data that every task shares: folders walked once, table cells filled.

Example:
    >>> check_cells(["a.png", "b.png"], source="CSV file 'train.csv'", column="image", what="image path")
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

from flash.errors import DataError


def walk_files(folder: str | os.PathLike) -> list[str]:
    """Every non-hidden file under ``folder`` (links followed), in a stable order, each real folder once.

    A link back to a folder already walked (a loop, or a second way into the same folder), or to a folder
    that holds ``folder`` itself (``train/cat/up -> ..``, which would pull the other classes in), is not
    walked; one warning names the first such link and counts them.

    Example:
        >>> walk_files("data/train/cat")  # doctest: +SKIP
        ['data/train/cat/1.png', 'data/train/cat/2.png']
    """
    found: list[str] = []
    seen: set[str] = set()
    repeats: list[str] = []
    top = os.path.realpath(folder)
    for root, dirs, files in os.walk(os.fspath(folder), followlinks=True):
        real = os.path.realpath(root)
        if real in seen or top.startswith(real.rstrip(os.sep) + os.sep):  # a loop, or a link to an enclosing folder
            repeats.append(root)
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    if repeats:
        warnings.warn(f"Found {len(repeats)} link(s) under '{folder}' to a folder already read (a symlink loop or a "
                      f"second path to it); each folder was read once. First: '{repeats[0]}' -> "
                      f"'{os.path.realpath(repeats[0])}'.", stacklevel=3)
    return found


def is_missing(value: Any) -> bool:
    """None, NaN (pandas' empty CSV cell) or a blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def check_cells(values: Sequence[Any], *, source: str, column: str, what: str) -> None:
    """Raise a DataError naming ``source``, the row and the column of the first empty cell.

    Rows count from 0 over the data (in a CSV file, row 0 is the line after the header).
    """
    for row, value in enumerate(values):
        if is_missing(value):
            raise DataError(f"Missing {what} in {source} row {row} (column {column!r}). Fill it in or drop the row. "
                            f"Received: {column}={value!r}")

