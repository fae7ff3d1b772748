"""Callbacks a ``Trainer`` adds by default, one per on/off flag, registered by the packages that provide them.

The engine knows no higher layer: ``flash.reports`` registers ``"report"`` (the run's HTML report) when it is
imported, and ``Trainer(report=True)`` (the default) then builds one. A flag nobody registered adds nothing.
This module imports no torch, so a package registers at import time without loading it.

Example:
    >>> register_default_callback("hello", lambda: "a callback")
    >>> default_callbacks({"hello": True, "report": False})
    ['a callback']
    >>> _FACTORIES.pop("hello") and None
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flash.engine.callbacks import Callback

_FACTORIES: dict[str, Callable[[], Callback]] = {}


def register_default_callback(flag: str, factory: Callable[[], Callback]) -> None:
    """Make ``Trainer(<flag>=True)`` add ``factory()`` to its callbacks (registering a flag again replaces it)."""
    _FACTORIES[flag] = factory


def default_callbacks(flags: Mapping[str, bool]) -> list[Callback]:
    """A new callback from each registered factory whose flag is on in ``flags``, in registration order."""
    return [factory() for flag, factory in _FACTORIES.items() if flags.get(flag)]
