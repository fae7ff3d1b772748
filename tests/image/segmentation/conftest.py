"""Fixtures for segmentation tests: tiny image/mask folders in tmp_path, tiny random models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import flash

CLASS_COLOURS = {0: (0, 0, 0), 1: (200, 30, 30), 2: (30, 200, 30)}


def blocky_mask(rng: np.random.Generator, size: tuple[int, int] = (40, 60), classes: int = 3) -> np.ndarray:
    """A mask of a few rectangles of random classes on class 0."""
    height, width = size
    mask = np.zeros(size, dtype=np.uint8)
    for _ in range(3):
        top, left = int(rng.integers(0, height - 8)), int(rng.integers(0, width - 8))
        bottom, right = top + int(rng.integers(6, 20)), left + int(rng.integers(6, 24))
        mask[top:bottom, left:right] = int(rng.integers(1, classes))
    return mask


def image_for(mask: np.ndarray) -> np.ndarray:
    """An RGB image whose red channel is 100 * class: the class can be read back from the pixels."""
    image = np.zeros((*mask.shape, 3), dtype=np.uint8)
    image[..., 0] = mask.astype(np.uint8) * 100
    image[..., 1] = 60
    return image


def write_pairs(root: Path, count: int = 4, *, size: tuple[int, int] = (40, 60), kind: str = "index",
                seed: int = 0, images: str = "images", masks: str = "masks") -> tuple[Path, Path]:
    """``count`` images and masks; ``kind``: ``index`` (mode L), ``palette`` (mode P), ``red`` (class in the red
    channel of an RGB mask), ``colour`` (CLASS_COLOURS)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / images).mkdir(parents=True, exist_ok=True)
    (root / masks).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        mask = blocky_mask(rng, size)
        Image.fromarray(image_for(mask)).save(root / images / f"{i}.png")
        if kind == "index":
            Image.fromarray(mask).save(root / masks / f"{i}.png")
        elif kind == "palette":
            picture = Image.fromarray(mask, mode="L").convert("P")
            picture.putpalette([v for c in range(256) for v in CLASS_COLOURS.get(c, (c, c, c))])
            picture.save(root / masks / f"{i}.png")
        elif kind == "red":
            rgb = np.zeros((*size, 3), dtype=np.uint8)
            rgb[..., 0] = mask
            Image.fromarray(rgb).save(root / masks / f"{i}.png")
        else:
            rgb = np.array([CLASS_COLOURS[int(c)] for c in range(3)], dtype=np.uint8)[mask]
            Image.fromarray(rgb).save(root / masks / f"{i}.png")
    return root / images, root / masks


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def tiny_model(num_classes: int = 3, **kwargs):
    from flash.image import SemanticSegmentation

    torch.manual_seed(0)
    kwargs.setdefault("backbone", "test_efficientnet")
    kwargs.setdefault("head", "deeplabv3plus")
    kwargs.setdefault("image_size", (32, 32))
    return SemanticSegmentation(num_classes, pretrained=False, **kwargs)


def quiet_trainer(root, **kwargs) -> flash.Trainer:
    kwargs.setdefault("max_epochs", 1)
    return flash.Trainer(default_root_dir=str(root), enable_checkpointing=False, logger=False,
                         enable_progress_bar=False, **kwargs)
