"""The object detection task, as the ``flash`` command and every all-task package see it (torch-free).

Example:
    >>> from flash.image.detection.entry import ENTRY
    >>> ENTRY.name, ENTRY.demo.model["head"]
    ('object_detection', 'fcos')
"""

from __future__ import annotations

import json
from pathlib import Path

from flash.core.entry import Demo, Detected, TaskEntry


def _coco(path: Path, *, val_split: float) -> Detected | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and {"images", "annotations"} <= set(data)):
        return None
    return Detected("from_coco", {"train_folder": str(path.parent), "train_ann_file": str(path),
                                  "val_split": val_split},
                    f"a COCO annotation file with {len(data['images'])} images (images looked up next to it)")


def detect(path: Path, *, val_split: float) -> Detected | None:
    """A COCO json file (or a folder holding one) -> ``from_coco``; a folder with Pascal VOC .xml -> ``from_voc``."""
    if path.is_file():
        return _coco(path, val_split=val_split) if path.suffix.lower() == ".json" else None
    if not path.is_dir():
        return None
    xmls = list(path.rglob("*.xml"))
    if xmls:
        return Detected("from_voc", {"train_folder": str(path), "train_ann_folder": str(xmls[0].parent),
                                     "val_split": val_split},
                        f"a Pascal VOC folder with {len(xmls)} annotation files")
    found = (_coco(p, val_split=val_split) for p in sorted(path.glob("*.json")))
    return next((d for d in found if d is not None), None)


ENTRY = TaskEntry(
    name="object_detection",
    model="flash.image.detection.model:ObjectDetector",
    data="flash.image.detection.data:ObjectDetectionData",
    demo=Demo(datamodule="flash.image.detection.demo:demo_datamodule",
              model={"head": "fcos", "backbone": "mobilenet_v3_large_fpn", "pretrained": False, "image_size": 128},
              trainer={"max_epochs": 10},
              inputs="flash.image.detection.demo:write_inputs"),
    extra="image",
    summary="find and label objects with boxes (COCO, VOC)",
    expects="a COCO json file, or a Pascal VOC folder with .xml annotations",
    extensions="flash.image.io:IMAGE_EXTENSIONS",
    detect=detect,
    adapters={
        "serve": "flash.image.detection.serving:SERVE",
        "export": "flash.image.detection.exporting:export_spec",
        "onnx": "flash.image.detection.onnx_runner:ObjectDetectionRunner",
        "report": "flash.image.detection.reporting:DetectionReport",
        "inspect": "flash.image.detection.inspection:INSPECT",
    },
)
