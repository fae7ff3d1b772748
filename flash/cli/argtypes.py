"""argparse types for numbers with a range: a bad value exits 2 with the usage line and the flag named.

Example:
    >>> at_least(1)("8")
    8
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(low: float, cast: type = int) -> Callable[[str], float]:
    """A type for ``add_argument(type=...)``: a ``cast`` number ``>= low``."""
    def check(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {cast.__name__} value: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text!r}")
        return value

    check.__name__ = cast.__name__  # argparse names the type in its messages
    return check


def port(text: str) -> int:
    """A TCP port, 0..65535."""
    value = int(at_least(0)(text))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {text!r}")
    return value
