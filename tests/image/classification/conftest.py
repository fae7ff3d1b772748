"""Tiny data written with PIL to tmp_path, and a tiny CNN registered like any real backbone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import flash
from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES, Backbone

TINY = "tiny_test_cnn"
COLORS = {"blue": (20, 40, 230), "red": (230, 30, 20), "green": (30, 220, 40)}


@IMAGE_CLASSIFIER_BACKBONES.register(name=TINY, override=True)
def tiny_test_cnn(*, pretrained: bool = False, width: int = 8) -> Backbone:
    """Two conv blocks and a global pool: (B, 3, H, W) -> (B, 2 * width)."""
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, stride=2, padding=1), torch.nn.BatchNorm2d(width), torch.nn.ReLU(),
        torch.nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), torch.nn.BatchNorm2d(2 * width), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    )
    return Backbone(module, 2 * width, {"image_size": (16, 16), "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)})


def color_image(color: str, seed: int, size: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 40, (size, size, 3))
    return np.clip(np.array(COLORS[color]) + noise, 0, 255).astype(np.uint8)


def write_folder(root: Path, per_class: int, *, seed: int = 0, classes=("blue", "red")) -> Path:
    from PIL import Image

    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(color_image(c, seed + 100 * i + 7 * classes.index(c))).save(root / c / f"{i}.png")
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and stay fast when other processes share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """tmp_path/{train,val,test}/{blue,red}/*.png and tmp_path/predict/*.png"""
    write_folder(tmp_path / "train", 8, seed=0)
    write_folder(tmp_path / "val", 4, seed=1)
    write_folder(tmp_path / "test", 4, seed=2)
    from PIL import Image

    (tmp_path / "predict").mkdir()
    for i, c in enumerate(("blue", "red", "blue")):
        Image.fromarray(color_image(c, 500 + i)).save(tmp_path / "predict" / f"{i}_{c}.png")
    return tmp_path


@pytest.fixture
def trainer(tmp_path: Path):
    def make(**kwargs) -> flash.Trainer:
        kwargs = {"max_epochs": 2, "enable_progress_bar": False, "logger": False, "enable_checkpointing": False,
                  "default_root_dir": os.fspath(tmp_path / "run"), **kwargs}
        return flash.Trainer(**kwargs)

    return make
