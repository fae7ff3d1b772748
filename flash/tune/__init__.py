"""Good settings without guesswork: the learning-rate and batch-size finders, and an Optuna search.

>>> import flash
>>> tuner = flash.Tuner(flash.Trainer(max_epochs=3))  # doctest: +SKIP
>>> tuner.lr_find(model, datamodule=datamodule).suggestion  # doctest: +SKIP
>>> from flash.tune import SearchSpace, search  # doctest: +SKIP

Names resolve lazily, so ``import flash.tune`` imports neither torch nor optuna.
"""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY: dict[str, str] = {
    "Tuner": "flash.tune.tuner",
    "TunedHyperparameters": "flash.tune.tuner",
    "LRFinderResult": "flash.tune.lr_finder",
    "BatchSizeResult": "flash.tune.batch_size",
    "SearchSpace": "flash.tune.space",
    "search": "flash.tune.study",
    "SearchResult": "flash.tune.study",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
