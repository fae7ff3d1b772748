"""The one ``Registry`` class: named factories (backbones, heads, ...) plus open-ended providers.

A name is ``"key"`` or ``"provider:key"``. Registered keys win; otherwise providers are
asked (``"timm:convnext_tiny"`` explicitly, ``"convnext_tiny"`` through a default provider),
so all of timm's models are reachable without copying its list or importing it early.

Example:
    >>> BACKBONES = Registry("backbones")
    >>> @BACKBONES.register(name="tiny")
    ... def tiny(pretrained=False):
    ...     return "a tiny backbone"
    >>> BACKBONES.get("tiny")()
    'a tiny backbone'
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flash.errors import ConfigurationError, close_matches


@dataclass
class Provider:
    """A family of names answered by functions instead of a stored list (e.g. all of timm)."""

    prefix: str
    build: Callable[[str], Callable]  # key -> factory
    list_keys: Callable[[], list[str]]
    has: Callable[[str], bool]
    default: bool = False  # also answers un-prefixed names


@dataclass
class Entry:
    name: str
    fn: Callable
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Named factories for one purpose (``ImageClassifier`` backbones, detection heads, ...)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, Entry] = {}
        self._providers: dict[str, Provider] = {}

    def register(self, fn: Callable | None = None, *, name: str | None = None, override: bool = False, **metadata: Any):
        """Register ``fn`` under ``name`` (default: its ``__name__``); usable as a decorator."""

        def add(fn: Callable) -> Callable:
            key = name or fn.__name__
            if key in self._entries and not override:
                raise ConfigurationError(
                    f"{key!r} is already registered in the {self.name} registry; pass override=True to replace it."
                )
            self._entries[key] = Entry(key, fn, metadata)
            return fn

        return add(fn) if fn is not None else add

    @contextlib.contextmanager
    def temporarily(self, name: str, fn: Callable, **metadata: Any) -> Iterator[Callable]:
        """``name`` resolves to ``fn`` inside the block; afterwards what was registered before (or nothing).

        For tests and demos that stand a tiny model in for a big one under its real name.

        Example:
            >>> heads = Registry("heads")
            >>> _ = heads.register(lambda: "linear", name="linear")
            >>> with heads.temporarily("linear", lambda: "a stand-in"):
            ...     heads.get("linear")()
            'a stand-in'
            >>> heads.get("linear")()
            'linear'
        """
        previous = self._entries.get(name)
        self._entries[name] = Entry(name, fn, metadata)
        try:
            yield fn
        finally:
            if previous is None:
                self._entries.pop(name, None)
            else:
                self._entries[name] = previous

    def add_provider(self, provider: Provider) -> None:
        self._providers[provider.prefix] = provider

    def __contains__(self, name: str) -> bool:
        try:
            self._lookup(name)
            return True
        except ConfigurationError:
            return False

    def _lookup(self, name: str) -> Entry:
        if name in self._entries:
            return self._entries[name]
        prefix, _, key = name.partition(":")
        if key and prefix in self._providers:
            provider = self._providers[prefix]
            if provider.has(key):
                return Entry(name, provider.build(key), {"provider": prefix})
        for provider in self._providers.values():
            if provider.default and ":" not in name and provider.has(name):
                return Entry(name, provider.build(name), {"provider": provider.prefix})
        raise ConfigurationError(self._unknown_message(name))

    def _unknown_message(self, name: str) -> str:
        known = list(self._entries)
        prefix, _, key = name.partition(":")
        if key and prefix in self._providers:
            candidates = [f"{prefix}:{k}" for k in self._safe_list(self._providers[prefix])]
        else:
            candidates = known + [k for p in self._providers.values() if p.default for k in self._safe_list(p)]
        hint = close_matches(name, candidates, n=3)
        did_you_mean = f" Did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
        return f"Unknown {self.name} {name!r}.{did_you_mean} See available_keys() for the full list. Received: {name!r}"

    @staticmethod
    def _safe_list(provider: Provider) -> list[str]:
        try:
            return provider.list_keys()
        except ImportError:
            return []

    def get(self, name: str) -> Callable:
        """The factory registered (or provided) under ``name``; unknown names get close matches."""
        return self._lookup(name).fn

    def metadata(self, name: str) -> dict[str, Any]:
        return dict(self._lookup(name).metadata)

    def available_keys(self, pattern: str | None = None) -> list[str]:
        """Registered keys plus every provider's (``provider:key``), filtered by a ``*`` wildcard pattern."""
        keys = list(self._entries)
        for provider in self._providers.values():
            keys += [f"{provider.prefix}:{k}" for k in self._safe_list(provider)]
        if pattern:
            keys = [
                k for k in keys if fnmatch.fnmatch(k, pattern) or fnmatch.fnmatch(k.partition(":")[2] or k, pattern)
            ]
        return sorted(dict.fromkeys(keys))
