"""Finetuning strategies for ``trainer.finetune(model, strategy=...)``.

``"no_freeze"``, ``"freeze"``, ``("freeze_unfreeze", epoch)``,
``("unfreeze_milestones", ((e1, e2), num_layers))``, or any ``Callback``.

Each strategy is a pure function of the epoch (which backbone layers train), applied at every
epoch start, so a resumed run freezes exactly what the original run froze. All parameters stay
in the optimizer; frozen ones simply get no gradient.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.engine.callbacks import Callback
from flash.errors import ConfigurationError

STRATEGIES = ("no_freeze", "freeze", "freeze_unfreeze", "unfreeze_milestones")
_BN = (torch.nn.modules.batchnorm._BatchNorm,)


def _layers(backbone: torch.nn.Module) -> list[torch.nn.Module]:
    """Top-level blocks of the backbone with parameters, in forward order (the unit of unfreezing)."""
    children = [m for m in backbone.children() if any(True for _ in m.parameters())]
    if len(children) == 1:
        return _layers(children[0])
    return children or [backbone]


class FinetuningStrategy(Callback):
    """Freeze the backbone except its last ``trainable_layers(epoch)`` blocks (-1: all)."""

    def __init__(self, train_bn: bool = False) -> None:
        self.train_bn = train_bn

    def trainable_layers(self, epoch: int) -> int:
        return -1

    def on_train_epoch_start(self, trainer, module) -> None:
        self.apply(module, trainer.current_epoch)

    def apply(self, module: Any, epoch: int) -> None:
        """Freeze ``module.backbone`` for ``epoch`` (any module with a ``backbone``; a Task's ``train`` keeps the
        frozen BatchNorm layers listed in ``module._frozen_bn_eval`` in eval mode)."""
        backbone = getattr(module, "backbone", None)
        if backbone is None:
            raise ConfigurationError(
                f"{type(module).__name__} has no `backbone` attribute, so it cannot be finetuned by freezing."
            )
        layers = _layers(backbone)
        n = self.trainable_layers(epoch)
        n = len(layers) if n < 0 else min(n, len(layers))
        frozen = layers[: len(layers) - n]
        for layer in layers:
            trainable = layer not in frozen
            for p in layer.parameters():
                p.requires_grad_(trainable)
            for m in layer.modules():
                if isinstance(m, _BN) and not trainable:
                    if self.train_bn:
                        for p in m.parameters(recurse=False):
                            p.requires_grad_(True)
                    else:
                        m.eval()
        module._frozen_bn_eval = (
            [m for layer in frozen for m in layer.modules() if isinstance(m, _BN)] if not self.train_bn else []
        )

    def state_dict(self) -> dict[str, Any]:
        return {}


class NoFreeze(FinetuningStrategy):
    pass


class Freeze(FinetuningStrategy):
    """The backbone frozen for the whole run; ``cache_features`` computes its outputs once (see feature_cache).

    ``cache_features=None`` caches when it changes nothing (deterministic training transforms, ``train_bn=False``).
    """

    def __init__(self, train_bn: bool = False, cache_features: bool | None = None) -> None:
        super().__init__(train_bn)
        self.cache_features = cache_features
        self._cache: dict | None = None

    def trainable_layers(self, epoch):
        return 0

    def finetune_loaders(self, module: torch.nn.Module, train_loaders: Any, val_loaders: Any, datamodule: Any) -> Any:
        """Loaders of cached features in place of the datamodule's, or None to train on the data as it is."""
        from flash.core import feature_cache

        self._cache = None
        loaders_given = train_loaders is not None or val_loaders is not None
        if not feature_cache.cache_applies(self.cache_features, module=module, datamodule=datamodule,
                                           loaders_given=loaders_given, train_bn=self.train_bn):
            return None
        self._cache, train, val = feature_cache.feature_loaders(datamodule)
        return train, val

    def on_fit_start(self, trainer, module) -> None:
        if self._cache is not None:
            from flash.core.feature_cache import fill_cache

            fill_cache(self._cache, module, datamodule=trainer.datamodule)

    def teardown(self, trainer, module, stage: str) -> None:
        self._cache = None


class FreezeUnfreeze(FinetuningStrategy):
    def __init__(self, unfreeze_epoch: int, train_bn: bool = False) -> None:
        super().__init__(train_bn)
        self.unfreeze_epoch = int(unfreeze_epoch)

    def trainable_layers(self, epoch):
        return -1 if epoch >= self.unfreeze_epoch else 0


class UnfreezeMilestones(FinetuningStrategy):
    def __init__(self, milestones: tuple[int, int], num_layers: int = 1, train_bn: bool = False) -> None:
        super().__init__(train_bn)
        if len(milestones) != 2 or milestones[0] > milestones[1]:
            raise ConfigurationError(
                "unfreeze_milestones needs ((first_epoch, second_epoch), num_layers) with first <= second. "
                f"Received: {milestones!r}"
            )
        self.milestones, self.num_layers = (int(milestones[0]), int(milestones[1])), int(num_layers)

    def trainable_layers(self, epoch):
        if epoch >= self.milestones[1]:
            return -1
        return self.num_layers if epoch >= self.milestones[0] else 0


def get_finetuning_strategy(strategy: Any, *, train_bn: bool = False, cache_features: bool | None = None) -> Callback:
    """Resolve a strategy name / tuple / Callback (``cache_features``: see :class:`Freeze`)."""
    if isinstance(strategy, Callback):
        return strategy
    name, arg = (
        (strategy[0], strategy[1]) if isinstance(strategy, (tuple, list)) and len(strategy) == 2 else (strategy, None)
    )
    if cache_features and name != "freeze":
        raise ConfigurationError("cache_features=True needs the backbone frozen for the whole run: strategy='freeze'. "
                                 f"Received: strategy={strategy!r}")
    if name == "no_freeze":
        return NoFreeze(train_bn)
    if name == "freeze":
        return Freeze(train_bn, cache_features)
    if name == "freeze_unfreeze":
        if not isinstance(arg, int):
            raise ConfigurationError(f"Use ('freeze_unfreeze', unfreeze_epoch). Received: strategy={strategy!r}")
        return FreezeUnfreeze(arg, train_bn)
    if name == "unfreeze_milestones":
        if not (isinstance(arg, (tuple, list)) and len(arg) == 2 and isinstance(arg[1], int)):
            raise ConfigurationError(
                f"Use ('unfreeze_milestones', ((e1, e2), num_layers)). Received: strategy={strategy!r}"
            )
        return UnfreezeMilestones(tuple(arg[0]), arg[1], train_bn)
    raise ConfigurationError(
        f"Unknown finetuning strategy {strategy!r}. Valid: 'no_freeze', 'freeze', ('freeze_unfreeze', epoch), "
        f"('unfreeze_milestones', ((e1, e2), num_layers)), or a Callback. Received: strategy={strategy!r}"
    )
