"""Images/s of flash's ``from_folders`` training DataLoader against torchvision's ``ImageFolder`` + ``DataLoader``.

Both sides read the same folder tree (written here: 2 classes x ``per_class`` images of ``--size``
pixels, JPEG or PNG), produce the same tensors (resize to 128 px, random horizontal flip, to float,
normalize; torchvision's side is the ``v2.Compose`` a torchvision user writes) with the same batch
size and number of workers, and are timed over full epochs, alternating flash / torchvision in one
process after a warm-up epoch each. Prints each side's images/s per repeat, the medians and the
ratio flash/torchvision (target >= 1.2).

flash is faster by two changes: JPEGs at least twice the target size are decoded at 1/2-1/8 scale by
the JPEG decoder (PIL's draft mode, ``flash.image.io.load_image(min_size=...)``), and the transform is
plain tensor code on a contiguous tensor instead of a ``v2.Compose`` (``_Pipeline`` in
``flash/image/classification/transforms.py``).

Results: benchmarks/README.md.

Usage:
    python benchmarks/image_data_throughput.py            # 2 x 300 JPEGs of 256 px, 5 repeats
    python benchmarks/image_data_throughput.py --format png --size 96
    python benchmarks/image_data_throughput.py --quick    # 2 x 60 images, 3 repeats (seconds)
    python benchmarks/image_data_throughput.py --json out.json   # the numbers also as JSON
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script
from PIL import Image
from torch.utils.data import DataLoader

from flash.image import ImageClassificationData

TRANSFORM_KWARGS = {"image_size": (128, 128), "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def write_images(root: Path, *, classes: int, per_class: int, size: int, suffix: str = "jpg") -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
            image = Image.fromarray(base).resize((size, size), Image.BILINEAR)  # smooth, photo-like JPEG
            image.save(folder / f"{i}.{suffix}", **({"quality": 90} if suffix == "jpg" else {}))


def epoch_rate(loader: DataLoader) -> float:
    start, count = time.perf_counter(), 0
    for batch in loader:
        images = batch["input"] if isinstance(batch, dict) else batch[0]
        count += images.shape[0]
    return count / (time.perf_counter() - start)


def torchvision_pipeline(*, train: bool) -> Any:
    """What a torchvision user writes for the same transform."""
    from torchvision.transforms import v2

    return v2.Compose([
        v2.Resize(list(TRANSFORM_KWARGS["image_size"]), antialias=True),
        *([v2.RandomHorizontalFlip()] if train else []),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(TRANSFORM_KWARGS["mean"]), list(TRANSFORM_KWARGS["std"])),
    ])


def build_loaders(root: Path, *, batch_size: int, workers: int) -> dict[str, DataLoader]:
    from torchvision.datasets import ImageFolder

    datamodule = ImageClassificationData.from_folders(train_folder=root, batch_size=batch_size, num_workers=workers,
                                                      transform_kwargs=TRANSFORM_KWARGS, pin_memory=False)
    folder = ImageFolder(str(root), transform=torchvision_pipeline(train=True))
    return {"flash": datamodule.train_dataloader(),
            "torchvision": DataLoader(folder, batch_size=batch_size, shuffle=True, num_workers=workers)}


def differences(root: Path) -> tuple[float, float]:
    """Max and mean |flash - torchvision| over every pixel, evaluation transforms (no flip), in 8-bit levels."""
    from torchvision.datasets import ImageFolder

    datamodule = ImageClassificationData.from_folders(val_folder=root, batch_size=16, num_workers=0,
                                                      transform_kwargs=TRANSFORM_KWARGS, pin_memory=False)
    theirs = ImageFolder(str(root), transform=torchvision_pipeline(train=False))
    by_path = {path: theirs[i][0] for i, (path, _) in enumerate(theirs.samples)}
    std = torch.tensor(TRANSFORM_KWARGS["std"]).view(3, 1, 1) * 255.0
    gaps = [((image - by_path[meta["filepath"]]).abs() * std).flatten()
            for batch in datamodule.val_dataloader() for image, meta in zip(batch["input"], batch["metadata"])]
    every = torch.cat(gaps)
    return float(every.max()), float(every.mean())


def run(args: argparse.Namespace) -> dict:
    """Images/s of flash's loader and torchvision's ImageFolder, and how far their tensors differ."""
    torch.set_num_threads(args.threads)
    per_class, size = (60, 160) if args.quick else (300, 256)
    size = args.size or size
    repeats = max(3, args.repeats or (3 if args.quick else 5))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "train"
        write_images(root, classes=2, per_class=per_class, size=size, suffix=args.format)
        worst, mean = differences(root)
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
        f"{2 * per_class} {args.format} images of {size}px -> {TRANSFORM_KWARGS['image_size']}, "
        f"batch {args.batch_size}, {args.workers} workers, {repeats} repeats"
    )
    print(f"median images/s: flash {flash_rate:.0f}, torchvision ImageFolder {tv_rate:.0f}")
    print(f"ratio flash/torchvision: {flash_rate / tv_rate:.3f} (target >= 1.2)")
    why = "JPEG draft decoding: the decoder's own downscale" if args.format == "jpg" else "float rounding"
    print(f"difference flash vs torchvision, evaluation transforms: max {worst:.2g}, mean {mean:.2g} of 255 ({why})")
    return {"images": 2 * per_class, "format": args.format, "size": size, "repeats": repeats,
            "flash_images_per_s": rates["flash"], "torchvision_images_per_s": rates["torchvision"],
            "ratio": flash_rate / tv_rate, "max_difference": worst, "mean_difference": mean}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the main process")
    parser.add_argument("--format", default="jpg", choices=("jpg", "png"))
    parser.add_argument("--size", type=int, default=None, help="image side in pixels (default 256; --quick: 160)")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
