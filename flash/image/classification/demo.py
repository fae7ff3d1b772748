"""The built-in demo data for ``flash train image_classification``: scikit-learn's real handwritten digits.

1,797 8x8 greyscale images of the digits 0-9 (from ``sklearn.datasets.load_digits``, stored in
``assets/digits.npz`` as uint8 so no scikit-learn is needed at run time).

Example:
    >>> datamodule = demo_datamodule(batch_size=64)
    >>> datamodule.labels[:3], len(datamodule.train_dataset) + len(datamodule.val_dataset)
    (['0', '1', '2'], 1797)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from flash.image.classification.data import ImageClassificationData
from flash.image.classification.entry import ENTRY

DIGITS_FILE = Path(__file__).parent / "assets" / "digits.npz"
# the entry holds the demo's typed configuration; these plain dicts are for scripts and notebooks
DEMO_MODEL = dict(ENTRY.demo.model)
DEMO_TRAINER = dict(ENTRY.demo.trainer)  # ~0.8-0.9 validation accuracy from scratch


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(images (1797, 8, 8) uint8, targets (1797,) int64)``."""
    with np.load(DIGITS_FILE) as data:
        return data["images"], data["targets"].astype(np.int64)


def demo_datamodule(**datamodule_kwargs: Any) -> ImageClassificationData:
    """The digits as an ``ImageClassificationData`` with a 20% validation split, upsampled to 16x16."""
    images, targets = load_digits()
    kwargs: dict[str, Any] = {"batch_size": 32, "val_split": 0.2, "transform_kwargs": {"image_size": (16, 16)},
                              "labels": [str(i) for i in range(10)]}
    kwargs.update(datamodule_kwargs)
    return ImageClassificationData.from_numpy(train_data=images, train_targets=targets, **kwargs)


def write_inputs(folder: str | Path, *, count: int = 3) -> list[str]:
    """Write ``count`` digits as 16x16 PNG files into ``folder`` (new inputs for ``flash predict``); their paths."""
    from PIL import Image

    images, _ = load_digits()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images[-count:]):  # (8, 8) uint8 -> a 16x16 greyscale PNG
        path = folder / f"digit_{i}.png"
        Image.fromarray(image).resize((16, 16)).save(path)
        paths.append(str(path))
    return paths
