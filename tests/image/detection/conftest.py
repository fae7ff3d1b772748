"""Fixtures for detection tests: tiny shape data sets in tmp_path, tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import flash
from flash.image.detection.demo import write_shapes


def tiny_model(head: str = "fcos", backbone: str = "resnet18_fpn", **kwargs):
    from flash.image import ObjectDetector

    torch.manual_seed(0)
    kwargs.setdefault("labels", ["background", "red_square", "green_circle", "blue_triangle"])
    return ObjectDetector(head=head, backbone=backbone, pretrained=False, image_size=64, **kwargs)


def quiet_trainer(root, **kwargs) -> flash.Trainer:
    kwargs.setdefault("max_epochs", 1)
    return flash.Trainer(default_root_dir=str(root), enable_checkpointing=False, logger=False,
                         enable_progress_bar=False, **kwargs)


def write_coco(path: Path, images: list[dict], annotations: list[dict], categories=None) -> Path:
    categories = categories or [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def save_noise(path: Path, size=(48, 64)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def shapes(tmp_path_factory) -> dict[str, Path]:
    """6 train and 4 val shape images (96 x 128 px: resized to 64 on the longer side), COCO json each."""
    root = tmp_path_factory.mktemp("shapes")
    train = write_shapes(root / "train", num_images=6, seed=0, size=(96, 128))
    val = write_shapes(root / "val", num_images=4, seed=1, size=(96, 128))
    return {"train_folder": root / "train", "train_ann_file": train, "val_folder": root / "val", "val_ann_file": val}


@pytest.fixture(scope="session")
def fitted(shapes, tmp_path_factory):
    """A tiny FCOS fitted for one epoch on the shapes, with its trainer and datamodule."""
    from flash.image import ObjectDetectionData

    datamodule = ObjectDetectionData.from_coco(
        train_folder=str(shapes["train_folder"]), train_ann_file=str(shapes["train_ann_file"]),
        val_folder=str(shapes["val_folder"]), val_ann_file=str(shapes["val_ann_file"]),
        predict_folder=str(shapes["val_folder"]), batch_size=3, transform_kwargs={"image_size": 64})
    model = tiny_model(labels=None, num_classes=datamodule.num_classes)
    trainer = quiet_trainer(tmp_path_factory.mktemp("fit"))
    trainer.fit(model, datamodule=datamodule)
    return model, trainer, datamodule
