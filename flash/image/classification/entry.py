"""The image classification task, as the ``flash`` command and every all-task package see it (torch-free).

Example:
    >>> from flash.image.classification.entry import ENTRY
    >>> ENTRY.name, dict(ENTRY.demo.model)
    ('image_classification', {'backbone': 'resnet18', 'pretrained': False})
"""

from __future__ import annotations

from pathlib import Path

from flash.core.entry import Demo, Detected, TaskEntry
from flash.core.recognise import class_folders, detect_table


def detect(path: Path, *, val_split: float) -> Detected | None:
    """A folder of class folders -> ``from_folders``; a table of image paths and labels -> ``from_csv`` etc."""
    extensions = ENTRY.file_extensions()
    classes = class_folders(path, extensions=extensions)
    if classes:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        return Detected("from_folders", {"train_folder": str(path), "val_split": val_split},
                        f"a folder of {len(classes)} class folders ({shown})")
    return detect_table(path, input_ext=extensions, val_split=val_split, root_key="train_images_root")


ENTRY = TaskEntry(
    name="image_classification",
    model="flash.image.classification.model:ImageClassifier",
    data="flash.image.classification.data:ImageClassificationData",
    demo=Demo(datamodule="flash.image.classification.demo:demo_datamodule",
              model={"backbone": "resnet18", "pretrained": False},
              trainer={"max_epochs": 4},  # ~0.8-0.9 validation accuracy from scratch
              inputs="flash.image.classification.demo:write_inputs"),
    extra="image",
    summary="classify images (folders of class folders, CSV, arrays)",
    expects="a folder of class folders, or a CSV/JSON/Parquet file of image paths and labels",
    extensions="flash.image.io:IMAGE_EXTENSIONS",
    detect=detect,
    adapters={
        "serve": "flash.image.classification.serving:SERVE",
        "export": "flash.image.classification.exporting:export_spec",
        "onnx": "flash.image.classification.onnx_runner:ImageClassificationRunner",
        "report": "flash.image.classification.reporting:ImageClassificationReport",
        "inspect": "flash.image.classification.inspection:INSPECT",
    },
)
