"""The callbacks ``Trainer`` adds by default, one per flag (``Trainer(report=True)`` -> the "report" callback).

Packages above the engine register a factory for their flag when they are imported, so the engine names none
of them: ``flash.reports`` registers ``"report"``.

Example:
    >>> register_default_callback("example", list)
    >>> default_callbacks({"example": True, "other": True})
    [[]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flash.engine.callbacks import Callback

_FACTORIES: dict[str, Callable[[], Callback]] = {}


def register_default_callback(flag: str, factory: Callable[[], Callback]) -> None:
    """Make ``factory()`` a default callback of every ``Trainer`` whose ``flag`` argument is on."""
    _FACTORIES[flag] = factory


def default_callbacks(flags: Mapping[str, bool]) -> list:
    """One new callback per registered flag that ``flags`` turns on, in registration order."""
    return [factory() for flag, factory in _FACTORIES.items() if flags.get(flag)]
