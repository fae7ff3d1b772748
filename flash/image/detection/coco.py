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
from flash.image.detection.inputs import BadBoxes, BoxChecker, DetectionInput, image_size, make_sample


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
    _check_unique_ids(data, path)
    return data


def _check_unique_ids(data: dict[str, Any], path: Path) -> None:
    """Two images (or categories) with one id would silently merge: name both entries."""
    for key, name in (("images", "file_name"), ("categories", "name")):
        first: dict[Any, int] = {}
        for i, entry in enumerate(data[key]):
            j = first.setdefault(entry["id"], i)
            if j != i:
                raise DataError(
                    f"'{path}': {key}[{j}] ({name} {data[key][j][name]!r}) and {key}[{i}] ({name} {entry[name]!r}) "
                    f"share the id {entry['id']!r}; every entry of '{key}' needs its own id. Fix the annotation file. "
                    f"Received: {key}[{i}].id={entry['id']!r}")


def coco_categories(ann_file: str | os.PathLike) -> list[str]:
    """Category names ordered by category id (the order of the label map)."""
    data = read_coco(ann_file)
    return [c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])]


class CocoInput(DetectionInput):
    """Images of ``folder`` with the boxes of the COCO file ``ann_file`` (labels are category names).

    Boxes are read in the coordinates of the upright image (EXIF orientation applied), as annotation
    tools (CVAT, Label Studio, FiftyOne) and browsers show photos; messages show the user's
    ``[x, y, w, h]`` and the annotation id.
    """

    def load_data(
        self, folder: str | os.PathLike, ann_file: str | os.PathLike, *, bad_boxes: BadBoxes = "fix"
    ) -> list[dict]:
        data = read_coco(ann_file)
        names = {c["id"]: c["name"] for c in data["categories"]}
        samples: dict[Any, dict] = {}
        for image in data["images"]:
            filepath = str(Path(folder) / image["file_name"])
            where = f"'{ann_file}' image id {image['id']} ('{image['file_name']}')"
            samples[image["id"]] = make_sample(filepath, [], [], metadata={"filepath": filepath, "where": where,
                                                                          "image_id": image["id"]})
        checker, sizes = BoxChecker(bad_boxes), {}
        for i, ann in enumerate(data["annotations"]):
            entry = f"'{ann_file}' annotation {ann.get('id', f'#{i}')}"
            box = _annotation_box(ann, entry, samples, names)
            if box is None:
                continue
            sample = samples[ann["image_id"]]
            if ann["image_id"] not in sizes:
                sizes[ann["image_id"]] = image_size(sample["input"], where=sample["metadata"]["where"])
            shown = "[x, y, w, h] = [" + ", ".join(f"{float(v):g}" for v in ann["bbox"]) + "]"
            where = f"{entry} on image id {ann['image_id']!r} ('{Path(sample['input']).name}')"
            fixed = checker.check(box, sizes[ann["image_id"]], where=where, shown=shown)
            if fixed is not None:
                sample["target"]["boxes"].append(fixed)
                sample["target"]["labels"].append(names[ann["category_id"]])
        checker.report(self.stage)
        return self.checked(list(samples.values()), bad_boxes)


def _annotation_box(ann: dict, entry: str, samples: dict, names: dict) -> list[float] | None:
    """The annotation's box as XYXY, None for crowd annotations; errors name the annotation."""
    if ann["image_id"] not in samples:
        raise DataError(f"{entry} refers to image_id {ann['image_id']!r}, which is not in 'images'.")
    if ann["category_id"] not in names:
        raise DataError(f"{entry} has category_id {ann['category_id']!r}, which is not in 'categories' "
                        f"(known ids: {sorted(names)}). Add the category or fix the annotation.")
    if ann.get("iscrowd", 0):
        return None
    box = ann["bbox"]
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise DataError(f"{entry}: bbox must be [x, y, width, height]. Received: {box!r}")
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise DataError(f"{entry}: bbox must hold 4 numbers [x, y, width, height]. Received: {box!r}") from None
    return [x, y, x + w, y + h]
