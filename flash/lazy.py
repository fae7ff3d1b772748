"""Lazy public names (PEP 562), and implementations a lower layer uses but a higher one provides.

A package lists ``name -> module`` and imports each on first use (:func:`lazy_getattr`). A lower layer that
needs a function from a higher one (``Task.serve`` needs ``flash.serve.serve``) asks for it by name
(:func:`provided`); the package root, which sits above every layer, wires the names (:func:`provide`) as
``"module:attribute"`` strings, imported on first use. Nothing here imports torch.

Example:
    >>> provide("dumps", "json:dumps")
    >>> provided("dumps")([1])
    '[1]'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flash.errors import ConfigurationError

_PROVIDED: dict[str, str] = {}


def lazy_getattr(package: str, names: dict[str, str], *,
                 imports_first: Mapping[str, Sequence[str]] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` the first time ``name`` is used, then caches it.

    ``imports_first[name]``: modules imported before ``name``'s own (e.g. a package that registers a
    default the name's module uses).
    """
    first = dict(imports_first or {})

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in first.get(name, ()):
            importlib.import_module(module)
        value = getattr(importlib.import_module(names[name]), name)
        setattr(sys.modules[package], name, value)  # the next access is a plain attribute lookup
        return value

    return __getattr__


def provide(name: str, target: str) -> None:
    """Make :func:`provided` ``(name)`` return the object at ``target`` (``"module:attribute"``)."""
    _PROVIDED[name] = target


def provided(name: str) -> Any:
    """The object :func:`provide` named ``name`` (its module imported now)."""
    target = _PROVIDED.get(name)
    if target is None:
        raise ConfigurationError(
            f"Nothing provides {name!r}: the package root (flash/__init__.py) wires it with "
            f"flash.lazy.provide({name!r}, 'module:attribute'). Import flash first. Received: name={name!r}"
        )
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
