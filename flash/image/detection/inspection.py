"""The object detector's ``inspect`` adapter: COCO or Pascal VOC annotations; each image's size and mode, its boxes
counted and measured, boxes outside the image or without area gathered into warnings.

Example:
    >>> from flash.image.detection.entry import ENTRY
    >>> ENTRY.adapter("inspect").labels, ENTRY.adapter("inspect").counted
    ('multi-labels', 'boxes')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flash.core.reporting.inspection import InspectAdapter, Item, Measurement
from flash.errors import DataError
from flash.image.inspection import image_size

OUTSIDE = "boxes reach outside their image; training clips them (bad_boxes='raise' would stop)"
NO_AREA = "boxes have no area; training drops them (bad_boxes='raise' would stop)"


def read(split: str, constructor: str, kwargs: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
    """``from_coco``: one item per image of the annotation file; ``from_voc``: one per ``.xml`` file."""
    if constructor == "from_coco":
        return _read_coco(split, Path(kwargs["train_folder"]), Path(kwargs["train_ann_file"])), []
    return _read_voc(split, Path(kwargs["train_folder"]), Path(kwargs["train_ann_folder"]))


def _read_coco(split: str, folder: Path, ann_file: Path) -> list[Item]:
    from flash.image.detection.coco import read_coco

    data = read_coco(ann_file)
    names = {c["id"]: c["name"] for c in data["categories"]}
    items = {image["id"]: Item(split, path=folder / image["file_name"], label=[], boxes=[]) for image in data["images"]}
    for ann in data["annotations"]:
        item = items.get(ann["image_id"])
        if item is not None:
            x, y, w, h = ann["bbox"]
            item.boxes.append([x, y, x + w, y + h])
            item.label.append(names.get(ann["category_id"], str(ann["category_id"])))
    return list(items.values())


def _read_voc(split: str, folder: Path, ann_folder: Path) -> tuple[list[Item], list[str]]:
    from flash.image.detection.voc import read_voc

    items, errors = [], []
    for xml in sorted(ann_folder.rglob("*.xml")):
        try:
            filename, boxes, names = read_voc(xml)
        except DataError as err:
            errors.append(str(err))
            continue
        items.append(Item(split, path=folder / filename, label=names, boxes=boxes))
    return items, errors


def measure(item: Item, data: bytes) -> Measurement:
    """The image's size and mode (from the file's bytes), ``boxes per image`` and ``box sizes``; bad boxes as
    problems."""
    measurement, (width, height) = image_size(item, data)
    if item.boxes is None:
        return measurement
    measurement.measures["boxes per image"] = [len(item.boxes)]
    sizes = measurement.measures["box sizes"] = []
    outside = measurement.problems[OUTSIDE] = []
    no_area = measurement.problems[NO_AREA] = []  # both keys always: the warnings keep this order
    for box in item.boxes:
        x1, y1, x2, y2 = (float(v) for v in box)
        sizes.append((x2 - x1, y2 - y1))
        if x2 <= x1 or y2 <= y1:
            no_area.append(f"'{item.path}' box {box}")
        elif x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            outside.append(f"'{item.path}' box {box} ({width}x{height} image)")
    return measurement


# the same image listed twice (two COCO entries, two VOC files) is found by path: scenes may share their pixels
INSPECT = InspectAdapter(read=read, measure_bytes=measure, labels="multi-labels", counted="boxes", same_input="path")
