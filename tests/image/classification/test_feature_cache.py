"""finetune(strategy="freeze", cache_features=...): the frozen backbone runs once, and the results stay exact."""

from __future__ import annotations

import pytest
import torch

from flash.core.feature_cache import clear_cache
from flash.errors import ConfigurationError
from flash.image import ImageClassificationData, ImageClassificationInputTransform, ImageClassifier
from tests.image.classification.conftest import TINY


class NoFlip(ImageClassificationInputTransform):
    """The training pipeline without the random flip: deterministic, so the cache changes nothing."""

    def build(self, train: bool):
        return super().build(False)

    def deterministic(self, stage: str) -> bool:
        return True


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """Feature files under tmp_path, and no features reused from another test."""
    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "cache"))
    clear_cache()
    yield tmp_path / "cache" / "features"
    clear_cache()


def _run(folders, trainer, *, transform=None, epochs=3, reuse=False, **finetune):
    if not reuse:  # each fit computes its own features (a later fit on the same data would reuse them)
        clear_cache()
    dm = ImageClassificationData.from_folders(train_folder=folders / "train", val_folder=folders / "val",
                                              batch_size=4, transform=transform)
    torch.manual_seed(0)
    model = ImageClassifier(backbone=TINY, labels=dm.labels, learning_rate=0.01)
    calls = []
    model.backbone.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
    t = trainer(max_epochs=epochs, num_sanity_val_steps=0)
    t.finetune(model, datamodule=dm, strategy="freeze", **finetune)
    return model, t, sum(calls)


def test_cached_features_give_the_uncached_result_and_run_the_backbone_once(folders, trainer):
    plain, plain_trainer, plain_images = _run(folders, trainer, transform=NoFlip, cache_features=False)
    cached, cached_trainer, cached_images = _run(folders, trainer, transform=NoFlip, cache_features=True)
    auto, _, auto_images = _run(folders, trainer, transform=NoFlip)  # deterministic transforms: cached by default
    assert plain_images == 3 * (16 + 8)  # 16 train + 8 val images, every epoch
    assert cached_images == auto_images == 16 + 8  # once, before the first epoch
    for other in (cached, auto):
        for (name, a), b in zip(plain.state_dict().items(), other.state_dict().values()):
            assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    accuracy = [float(t.callback_metrics["val_accuracy"]) for t in (plain_trainer, cached_trainer)]
    assert accuracy[0] == accuracy[1]
    assert cached.predict(str(folders / "predict")) == plain.predict(str(folders / "predict"))


def test_random_augmentation_is_not_cached_unless_asked(folders, trainer):
    _, _, images = _run(folders, trainer, epochs=2)  # the default transform flips at random
    assert images == 2 * (16 + 8)
    model, t, images = _run(folders, trainer, epochs=2, cache_features=True)
    assert images == 16 + 8 and "val_accuracy" in t.callback_metrics
    assert all(not p.requires_grad for p in model.backbone.parameters())


def test_cache_features_true_says_why_it_cannot_apply(folders, trainer):
    with pytest.raises(ConfigurationError, match="train_bn=True keeps.*Received: cache_features=True"):
        _run(folders, trainer, epochs=1, cache_features=True, train_bn=True)
    dm = ImageClassificationData.from_folders(train_folder=folders / "train", batch_size=4)
    model = ImageClassifier(backbone=TINY, labels=dm.labels)
    with pytest.raises(ConfigurationError, match="strategy='freeze'"):
        trainer(max_epochs=1).finetune(model, datamodule=dm, strategy="no_freeze", cache_features=True)
    with pytest.raises(ConfigurationError, match="pass datamodule="):
        trainer(max_epochs=1).finetune(model, dm.train_dataloader(), strategy="freeze", cache_features=True)


def test_features_are_reused_by_a_later_fit_on_the_same_backbone_and_data(folders, trainer):
    first, _, first_images = _run(folders, trainer, transform=NoFlip, cache_features=True)
    again, _, again_images = _run(folders, trainer, transform=NoFlip, cache_features=True, reuse=True)
    assert first_images == 16 + 8 and again_images == 0  # the backbone did not run again
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_over_the_memory_budget_features_go_to_one_file_reused_until_the_data_changes(folders, trainer, cache_home,
                                                                                       monkeypatch):
    import flash.core.feature_store as store

    monkeypatch.setenv("FLASH_FEATURE_CACHE_MB", "0")  # every feature over the budget: memory-mapped files
    in_memory, _, _ = _run(folders, trainer, transform=NoFlip, cache_features=False)
    on_disk, _, images = _run(folders, trainer, transform=NoFlip, cache_features=True)
    files = sorted(p.name for p in cache_home.rglob("*") if p.is_file())
    assert images == 16 + 8 and files == ["features.f32", "features.f32", "meta.json", "meta.json", "targets.pt",
                                          "targets.pt"]  # train and val: one preallocated file each
    sizes = sorted(p.stat().st_size for p in cache_home.rglob("features.f32"))
    assert sizes == [8 * 16 * 4, 16 * 16 * 4]  # (rows, 16 features) float32, no second copy
    for a, b in zip(in_memory.state_dict().values(), on_disk.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)
    store._IN_MEMORY.clear()  # as a new process: only the files remain
    _, _, images = _run(folders, trainer, transform=NoFlip, cache_features=True, reuse=True)
    assert images == 0
    changed = folders / "train" / "red" / "0.png"
    changed.write_bytes(changed.read_bytes())  # same bytes, a new modification time: the inputs changed
    import os

    os.utime(changed, ns=(1, 1))
    _, _, images = _run(folders, trainer, transform=NoFlip, cache_features=True, reuse=True)
    assert images == 16  # the train features are computed again, the val ones reused
    assert clear_cache() > 0 and not cache_home.exists()
