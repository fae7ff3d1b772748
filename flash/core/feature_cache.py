"""Train a head on a frozen backbone's features, computed once: ``finetune(strategy="freeze", cache_features=...)``.

When the backbone stays frozen for the whole run (``strategy="freeze"``, ``train_bn=False``) its output
for a sample never changes, so computing it every epoch is wasted work. The cache runs the backbone
once, in eval mode and without gradients, over the training and validation data with the
**evaluation** transforms, before the first epoch; every epoch then trains the head on those feature
vectors (no image decoding, no backbone). The results equal a run whose training transforms are the
evaluation ones and whose backbone runs in eval mode (same sample order, same head updates; a dropout layer
inside the backbone is off, as in evaluation), which is why the cache is automatic only when
the training transforms are deterministic (``InputTransform.deterministic("train")``) and otherwise
an explicit opt-in (``cache_features=True``: random augmentation is then not applied).

Tasks take part by implementing ``forward_features(inputs)`` and ``forward_head(features)``.

Example:
    >>> trainer.finetune(model, datamodule=datamodule, strategy="freeze", cache_features=True)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from flash.core.data import FEATURES, INPUT, TARGET, collate_samples
from flash.core.feature_store import FeatureStore, cache_folder, clear_cache, fingerprint
from flash.core.feature_store import reuse as _reuse
from flash.engine.data import apply_to_tensors
from flash.errors import ConfigurationError

CACHED_STAGES = ("train", "val")
__all__ = ["FeatureDataset", "cache_applies", "cache_folder", "clear_cache", "feature_loaders", "fill_cache",
           "supports_feature_cache"]


def supports_feature_cache(module: Any) -> bool:
    """Whether ``module`` splits into ``forward_features`` and ``forward_head`` (a flash ``Task`` that does)."""
    return callable(getattr(module, "forward_features", None)) and callable(getattr(module, "forward_head", None))


class FeatureDataset(Dataset):
    """``{"features": tensor, "target": ...}`` samples: one stage's data as the frozen backbone sees it.

    Empty until :meth:`compute` fills it (the transforms' sizes are only known once training sets up).
    """

    def __init__(self, source: Any, transform: Any, collate: Any, stage: str = "train", settings: Any = None) -> None:
        self.source, self.transform, self.collate, self.stage = source, transform, collate, stage
        self.settings = settings  # the InputTransform the transform comes from (part of the fingerprint)
        self.features: torch.Tensor | None = None
        self.targets: Any = None

    def __len__(self) -> int:
        return len(self.source) if self.features is None else len(self.features)

    def __getitem__(self, index: int) -> dict:
        if self.features is None:
            raise RuntimeError("The feature cache is read before it was computed (it fills on_fit_start).")
        return {FEATURES: self.features[index], TARGET: self.targets[index]}

    @torch.no_grad()
    def compute(self, module: Any, *, batch_size: int, num_workers: int, device: torch.device,
                memory_budget: int | None = None, folder: str | os.PathLike | None = None) -> None:
        """Run the backbone (eval mode, no gradients) once over the source with the evaluation transform.

        The features go into one preallocated array: in memory up to ``memory_budget`` bytes (default:
        ``$FLASH_FEATURE_CACHE_MB`` MiB, else 1024), beyond it a memory-mapped file under ``folder`` (default
        :func:`cache_folder`). With a fingerprint of the backbone's weights, the transform and the inputs
        (paths with their sizes and times, or texts), a later fit of the same backbone on the same data reuses
        them (from memory in this process, from the file in any process) instead of running the backbone.
        """
        key = fingerprint(module, self.source, self.settings if self.settings is not None else self.transform,
                          self.stage)
        found = _reuse(key, folder)
        if found is not None:
            self.features, self.targets = found
            return
        from flash.core.data.inputs import drop_skipped

        view = copy.copy(self.source)
        view.transform = self.transform
        loader = DataLoader(view, batch_size=batch_size, num_workers=num_workers,
                            collate_fn=drop_skipped(self.collate, view))
        store: FeatureStore | None = None
        targets = []
        for batch in loader:
            inputs = apply_to_tensors(batch[INPUT], lambda tensor: tensor.to(device))  # a tensor, or a dict (text)
            features = module.forward_features(inputs).float().cpu()  # (B, D)
            if store is None:
                store = FeatureStore(len(self.source), tuple(features.shape[1:]), key=key, folder=folder,
                                     budget=memory_budget)
            store.append(features)
            targets.append(batch[TARGET])
        if store is None:
            raise RuntimeError(f"The {self.stage} data gave no batch to cache features of.")
        self.targets = torch.cat(targets) if isinstance(targets[0], torch.Tensor) else [t for b in targets for t in b]
        self.features = store.finish(self.targets)


def cache_applies(cache_features: bool | None, *, module: Any, datamodule: Any, loaders_given: bool,
                  train_bn: bool) -> bool:
    """Decide whether to cache; an explicit ``cache_features=True`` that cannot apply raises and says why."""
    reasons = []
    if train_bn:
        reasons.append("train_bn=True keeps the backbone's BatchNorm parameters training (pass train_bn=False)")
    if not supports_feature_cache(module):
        reasons.append(f"{type(module).__name__} does not split into forward_features/forward_head")
    if loaders_given or datamodule is None or getattr(datamodule, "train_dataset", None) is None:
        reasons.append("the cache reads a DataModule's datasets (pass datamodule=..., not dataloaders)")
    if cache_features is None:
        transform = getattr(datamodule, "transform", None)
        deterministic = getattr(transform, "deterministic", None)
        return not reasons and callable(deterministic) and bool(deterministic("train"))
    if cache_features and reasons:
        raise ConfigurationError(f"cache_features=True cannot apply: {'; '.join(reasons)}. "
                                 f"Received: cache_features={cache_features!r}, train_bn={train_bn!r}")
    return bool(cache_features)


def feature_loaders(datamodule: Any) -> tuple[dict[str, FeatureDataset], DataLoader, DataLoader | None]:
    """Empty feature datasets for the train (and val) stages, and the loaders that read them."""
    transform = datamodule.transform
    datasets = {}
    for stage in CACHED_STAGES:
        source = getattr(datamodule, f"{stage}_dataset", None)
        if source is not None:
            datasets[stage] = FeatureDataset(source, transform.per_sample_transform("val"), transform.collate("val"),
                                             stage, transform)
    batch_size = datamodule.batch_size
    train = DataLoader(datasets["train"], batch_size=batch_size, shuffle=True, collate_fn=collate_samples)
    val = DataLoader(datasets["val"], batch_size=batch_size, collate_fn=collate_samples) if "val" in datasets else None
    return datasets, train, val


def fill_cache(datasets: dict[str, FeatureDataset], module: Any, *, datamodule: Any) -> None:
    """Compute every stage's features with the backbone in eval mode (its mode is restored after)."""
    device = next(module.parameters()).device
    backbone = module.backbone
    was_training = backbone.training
    backbone.eval()
    try:
        for dataset in datasets.values():
            dataset.compute(module, batch_size=datamodule.batch_size, num_workers=datamodule.num_workers, device=device)
    finally:
        backbone.train(was_training)
