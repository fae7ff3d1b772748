"""``HookDispatcher``: the one way the engine runs a hook (Lightning Fabric's ``call``).

Every hook runs on the model first, then on each callback in the Trainer's order (its
``callbacks``, then those the model or ``finetune`` brought). Callbacks whose method is the
base class's no-op are skipped: hooks run several times per training step. Which callbacks
implement which hook is cached, and the cache is rebuilt by itself when the model or the
callback list changes, so no caller ever resets it.

Example:
    >>> from flash.engine.callbacks import Callback
    >>> class Hello(Callback):
    ...     def on_fit_start(self, trainer, module):
    ...         print("callback")
    >>> class Model:
    ...     def on_fit_start(self):
    ...         print("model")
    >>> HookDispatcher(trainer=None, model=lambda: Model(), callbacks=lambda: [Hello()]).call("on_fit_start")
    model
    callback
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flash.engine.callbacks import Callback


def _model_method(model: Any, hook: str) -> Callable | None:
    # look before getattr: a miss goes through nn.Module.__getattr__, which raises (slow)
    if model is None or not (hasattr(type(model), hook) or hook in getattr(model, "__dict__", ())):
        return None
    method = getattr(model, hook, None)
    return method if callable(method) else None


class HookDispatcher:
    """Runs hooks in one order: the model's, then each callback's (callbacks get ``trainer, model`` first)."""

    def __init__(self, *, trainer: Any, model: Callable[[], Any], callbacks: Callable[[], list]) -> None:
        self._trainer = trainer
        self._model = model  # both are read at each lookup: the Trainer swaps models, callbacks come and go
        self._callbacks = callbacks
        self._cache: dict[str, tuple[Callable | None, list[Callable]]] = {}
        self._cached_for: tuple = ()

    def _lookup(self, hook: str) -> tuple[Callable | None, list[Callable]]:
        model, callbacks = self._model(), self._callbacks()
        owners = (model, *callbacks)
        if len(owners) != len(self._cached_for) or any(a is not b for a, b in zip(owners, self._cached_for)):
            self._cache, self._cached_for = {}, owners
        found = self._cache.get(hook)
        if found is None:
            base = getattr(Callback, hook, None)
            overriding = [c for c in callbacks if hook in vars(c) or getattr(type(c), hook, None) is not base]
            bound: list[Callable] = [functools.partial(getattr(c, hook), self._trainer, model) for c in overriding]
            found = self._cache[hook] = (_model_method(model, hook), bound)
        return found

    def methods(self, hook: str) -> list[Callable]:
        """What ``call(hook, ...)`` runs, in order, each taking the hook's own arguments (for the batch loops,
        which look them up once per epoch instead of once per batch)."""
        model_method, callback_methods = self._lookup(hook)
        return callback_methods if model_method is None else [model_method, *callback_methods]

    def call(self, hook: str, *args: Any, between: Callable[[], Any] | None = None) -> None:
        """Run ``hook(*args)`` on the model, then ``between()`` if given, then on every callback.

        The epoch ends pass ``between``: the epoch's metric means are computed there, so what the
        model logs in its own epoch-end hook is part of them and the callbacks read them.
        """
        model_method, callback_methods = self._lookup(hook)
        if model_method is not None:
            model_method(*args)
        if between is not None:
            between()
        for method in callback_methods:
            method(*args)
