"""COCO-format annotation files -> detection samples.

The file is a JSON object with ``images`` (``id``, ``file_name``), ``annotations`` (``image_id``,
``category_id``, ``bbox`` as ``[x, y, width, height]`` pixels) and ``categories`` (``id``, ``name``).
Crowd annotations (``iscrowd: 1``) are skipped. Images with no annotation stay, with no boxes.

Example:
    >>> samples = CocoInput("train", "images/", "annotations.json")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flash.errors import DataError
from flash.image.detection.inputs import BadBoxes, DetectionInput, make_sample


def read_coco(ann_file: str | os.PathLike) -> dict[str, Any]:
    """Load and shape-check a COCO json; errors name the file and the entry."""
    path = Path(ann_file)
    if not path.is_file():
        raise DataError(
            f"The COCO annotation file '{path}' does not exist. Check train_ann_file/val_ann_file/test_ann_file."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"The COCO annotation file '{path}' is not valid JSON: {err}.") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(
            f"The COCO annotation file '{path}' needs the lists 'images', 'annotations' and 'categories'. "
            f"Found: {found}"
        )
    for key, fields in (
        ("images", ("id", "file_name")),
        ("annotations", ("image_id", "category_id", "bbox")),
        ("categories", ("id", "name")),
    ):
        for i, entry in enumerate(data[key]):
            if not isinstance(entry, dict) or any(f not in entry for f in fields):
                raise DataError(f"'{path}': {key}[{i}] needs the fields {', '.join(fields)}. Received: {entry!r}")
    return data


def coco_categories(ann_file: str | os.PathLike) -> list[str]:
    """Category names ordered by category id (the order of the label map)."""
    data = read_coco(ann_file)
    return [c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])]


class CocoInput(DetectionInput):
    """Images of ``folder`` with the boxes of the COCO file ``ann_file`` (labels are category names)."""

    def load_data(
        self, folder: str | os.PathLike, ann_file: str | os.PathLike, *, bad_boxes: BadBoxes = "fix"
    ) -> list[dict]:
        data = read_coco(ann_file)
        names = {c["id"]: c["name"] for c in data["categories"]}
        samples: dict[Any, dict] = {}
        for image in data["images"]:
            filepath = str(Path(folder) / image["file_name"])
            where = f"'{ann_file}' image id {image['id']} ('{image['file_name']}')"
            samples[image["id"]] = make_sample(
                filepath, [], [], metadata={"filepath": filepath, "where": where, "image_id": image["id"]}
            )
        for i, ann in enumerate(data["annotations"]):
            entry = f"'{ann_file}' annotation {ann.get('id', f'#{i}')}"
            if ann["image_id"] not in samples:
                raise DataError(f"{entry} refers to image_id {ann['image_id']!r}, which is not in 'images'.")
            if ann["category_id"] not in names:
                raise DataError(
                    f"{entry} has category_id {ann['category_id']!r}, which is not in 'categories' "
                    f"(known ids: {sorted(names)}). Add the category or fix the annotation."
                )
            if ann.get("iscrowd", 0):
                continue
            box = ann["bbox"]
            if not isinstance(box, (list, tuple)) or len(box) != 4:
                raise DataError(f"{entry}: bbox must be [x, y, width, height]. Received: {box!r}")
            x, y, w, h = (float(v) for v in box)
            target = samples[ann["image_id"]]["target"]
            target["boxes"].append([x, y, x + w, y + h])
            target["labels"].append(names[ann["category_id"]])
        return self.checked(list(samples.values()), bad_boxes)
