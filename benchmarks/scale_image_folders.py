"""Building an image DataModule at scale: ``ImageClassificationData.from_folders`` against torchvision's
``ImageFolder`` + ``DataLoader``, in the same process, on the same folder of small JPEGs (issue 31).

Timed: the build (listing the folder, labelling the samples) plus the first training batch (batch 32, no
workers), the time a user waits before the first step. Both run on a warm page cache, alternating,
and the median of the repeats is reported. Memory: the bytes the built data set keeps per sample
(``tracemalloc``, in a separate untimed pass). Checked: both list the same files with the same label ids,
and flash's first batch has the expected shape. Generation of the images is not timed.

Measured 2026-12-07 (2 shared CPU cores under other jobs, 100k 32x32 JPEGs in 10 classes, median of 3):
torchvision 1.22-1.45 s, flash 1.45-1.62 s, ratio 1.00-1.33x (main before issue 31: ~26x, 5.7 s vs 0.22 s);
108 bytes kept per sample (paths and label ids as columns) vs ImageFolder's 162.

Usage:
    python benchmarks/scale_image_folders.py            # 100k images (generation takes a few minutes)
    python benchmarks/scale_image_folders.py --quick    # 2k images, seconds
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np


def write_images(root: str, count: int, *, classes: int = 10, size: int = 32) -> None:
    """``count`` tiny JPEGs, ``root/class_k/000123.jpg``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (classes, size, size, 3), dtype=np.uint8)
    for k in range(classes):
        os.makedirs(os.path.join(root, f"class_{k}"), exist_ok=True)
    for i in range(count):
        k = i % classes
        Image.fromarray(base[k]).save(os.path.join(root, f"class_{k}", f"{i:06d}.jpg"), quality=80)


def torchvision_side(root: str) -> tuple[Any, Any]:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    dataset = datasets.ImageFolder(root, transform=transform)
    batch = next(iter(DataLoader(dataset, batch_size=32, shuffle=True, num_workers=0)))
    return dataset, batch


def flash_side(root: str) -> tuple[Any, Any]:
    from flash.image import ImageClassificationData

    datamodule = ImageClassificationData.from_folders(train_folder=root, batch_size=32, num_workers=0,
                                                      transform_kwargs={"image_size": (32, 32)})
    batch = next(iter(datamodule.train_dataloader()))
    return datamodule, batch


def _timed(fn: Any, root: str) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn(root)
    return time.perf_counter() - start, result


def _retained_bytes(build: Any, count: int) -> float:
    """Bytes per sample still allocated after ``build()`` (the data set kept alive), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / count


def _build_torchvision(root: str) -> Any:
    from torchvision import datasets

    return datasets.ImageFolder(root)


def _build_flash(root: str) -> Any:
    from flash.image.classification.input import ImageFolderInput

    return ImageFolderInput("train", root)  # the samples a DataModule holds, before the label ids


def run(*, quick: bool = False, count: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    """Build both sides ``repeats`` times on ``count`` generated images; return the timings and checks."""
    count = count or (2_000 if quick else 100_000)
    repeats = repeats or (2 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "train")
        write_images(root, count)
        warnings.simplefilter("ignore")
        flash_side(root), torchvision_side(root)  # warm: page cache, imports
        hand_times, flash_times = [], []
        for _ in range(repeats):
            seconds, (dataset, hand_batch) = _timed(torchvision_side, root)
            hand_times.append(seconds)
            seconds, (datamodule, flash_batch) = _timed(flash_side, root)
            flash_times.append(seconds)
        columns = datamodule.train_dataset.samples
        flash_pairs = sorted((os.path.relpath(p, root), int(t)) for p, t in zip(columns.inputs, columns.targets))
        hand_pairs = sorted((os.path.relpath(p, root), t) for p, t in dataset.samples)
        result = {
            "images": count,
            "torchvision_s": statistics.median(hand_times),
            "flash_s": statistics.median(flash_times),
            "same_files_and_labels": flash_pairs == hand_pairs,
            "labels_equal": datamodule.labels == dataset.classes,
            "flash_batch_shape": tuple(flash_batch["input"].shape),
            "torchvision_batch_shape": tuple(hand_batch[0].shape),
            "flash_columns_bytes_per_sample": columns.nbytes() / count,
            "flash_bytes_per_sample": _retained_bytes(lambda: _build_flash(root), count),
            "torchvision_bytes_per_sample": _retained_bytes(lambda: _build_torchvision(root), count),
        }
    result["ratio"] = result["flash_s"] / result["torchvision_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k images instead of 100k")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    result = run(quick=args.quick, count=args.count, repeats=args.repeats)
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"build + first batch, ratio flash/torchvision: {result['ratio']:.2f}x (target <= 3)")


if __name__ == "__main__":
    main()
