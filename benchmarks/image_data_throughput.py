"""Images/s of flash's ``from_folders`` training DataLoader against torchvision's ``ImageFolder`` + ``DataLoader``.

Both sides read the same JPEG folder tree (written here: ``classes`` x ``per_class`` images of
``--size`` pixels), apply the same torchvision v2 pipeline (flash's training transform: resize,
random horizontal flip, to float, normalize) with the same batch size and number of workers, and
are timed over full epochs, alternating flash / torchvision in one process after a warm-up
epoch each. Prints each side's images/s per repeat, the medians and the ratio flash/torchvision
(target >= 0.95).

Measured (2 shared CPU cores, load average ~10, defaults): median flash 148 img/s vs torchvision
142 img/s, ratio 1.04 over 7 repeats (single repeats ranged 0.78-1.24: the machine's noise
dominates); per sample in one process (no workers) 0.97-1.01. An earlier 5-repeat run, before
load_image dropped its extra stat() call, gave 0.82.

Usage:
    python benchmarks/image_data_throughput.py            # 2 x 300 images of 256 px, 5 repeats
    python benchmarks/image_data_throughput.py --quick    # 2 x 60 images, 3 repeats (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from flash.image import ImageClassificationData, ImageClassificationInputTransform

TRANSFORM_KWARGS = {"image_size": (128, 128), "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def write_images(root: Path, *, classes: int, per_class: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
            image = Image.fromarray(base).resize((size, size), Image.BILINEAR)  # smooth, photo-like JPEG
            image.save(folder / f"{i}.jpg", quality=90)


def epoch_rate(loader: DataLoader) -> float:
    start, count = time.perf_counter(), 0
    for batch in loader:
        images = batch["input"] if isinstance(batch, dict) else batch[0]
        count += images.shape[0]
    return count / (time.perf_counter() - start)


def build_loaders(root: Path, *, batch_size: int, workers: int) -> dict[str, DataLoader]:
    from torchvision.datasets import ImageFolder

    datamodule = ImageClassificationData.from_folders(train_folder=root, batch_size=batch_size, num_workers=workers,
                                                      transform_kwargs=TRANSFORM_KWARGS, pin_memory=False)
    pipeline = ImageClassificationInputTransform(**TRANSFORM_KWARGS).build(train=True)
    folder = ImageFolder(str(root), transform=pipeline)
    return {"flash": datamodule.train_dataloader(),
            "torchvision": DataLoader(folder, batch_size=batch_size, shuffle=True, num_workers=workers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the main process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    per_class, size = (60, 160) if args.quick else (300, 256)
    repeats = max(3, args.repeats or (3 if args.quick else 5))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "train"
        write_images(root, classes=2, per_class=per_class, size=size)
        loaders = build_loaders(root, batch_size=args.batch_size, workers=args.workers)
        for loader in loaders.values():
            epoch_rate(loader)  # warm-up: file cache, worker start-up code paths
        rates: dict[str, list[float]] = {name: [] for name in loaders}
        for repeat in range(repeats):
            for name, loader in (loaders.items() if repeat % 2 == 0 else reversed(loaders.items())):
                rates[name].append(epoch_rate(loader))
            print(
                f"repeat {repeat + 1}: flash {rates['flash'][-1]:.0f} img/s, "
                f"torchvision {rates['torchvision'][-1]:.0f} img/s"
            )
    flash_rate, tv_rate = statistics.median(rates["flash"]), statistics.median(rates["torchvision"])
    print(
        f"{2 * per_class} images of {size}px -> {TRANSFORM_KWARGS['image_size']}, batch {args.batch_size}, "
        f"{args.workers} workers, {repeats} repeats"
    )
    print(f"median images/s: flash {flash_rate:.0f}, torchvision ImageFolder {tv_rate:.0f}")
    print(f"ratio flash/torchvision: {flash_rate / tv_rate:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
