"""Detection ``Input`` classes and the one box check every annotation format goes through.

A detection sample before label indexing::

    {"input": "img/1.png", "target": {"boxes": [[x1, y1, x2, y2], ...], "labels": ["cat", ...]},
     "metadata": {"filepath": "img/1.png"}}

Boxes are ``XYXY`` pixels of the original image. ``bad_boxes="fix"`` clips boxes that leave the
image and drops boxes with no area, with one warning that counts them; ``"raise"`` makes the first
one a ``DataError`` naming the file and the entry.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flash.core.data import INPUT, METADATA, TARGET, Input
from flash.core.download import is_url, local_file
from flash.errors import ConfigurationError, DataError
from flash.image.io import image_from_array, is_image_file, load_image, upright_size

BadBoxes = Literal["fix", "raise"]
BOX_KEYS = ("xmin", "ymin", "width", "height")


def image_size(path: str | os.PathLike, *, where: str) -> tuple[int, int]:
    """Upright ``(height, width)`` (EXIF orientation applied) from the file header; a missing or unreadable
    file names ``where`` it was referenced."""
    from PIL import UnidentifiedImageError

    if not Path(path).is_file():
        raise DataError(f"{where} points to the image '{path}', which does not exist. Fix the path or the annotation.")
    try:
        return upright_size(path)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"Cannot read image '{path}' ({where}): {err}. Remove or replace the file.") from None


@dataclass
class BoxChecker:
    """Clips or drops bad boxes (or raises), counting what it did, for one stage's data."""

    policy: BadBoxes = "fix"
    clipped: int = 0
    dropped: int = 0
    first: str | None = None
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in ("fix", "raise"):
            raise ConfigurationError(f"bad_boxes must be 'fix' or 'raise'. Received: bad_boxes={self.policy!r}")

    def check(self, box: Sequence[float], size: tuple[int, int], *, where: str,
              shown: str | None = None) -> list[float] | None:
        """The box, clipped to the ``(height, width)`` image, or None when it has no area.

        ``shown``: the box as the user wrote it, for messages (e.g. COCO's ``[x, y, w, h] = [...]``).
        """
        height, width = size
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise DataError(f"{where}: a box needs 4 numbers. Received: {box!r}") from None
        shown = shown or _fmt(box)
        if not (x2 > x1 and y2 > y1):
            self._bad(f"{where}: box {shown} has zero or negative width/height", drop=True)
            return None
        clipped = [
            min(max(x1, 0.0), width),
            min(max(y1, 0.0), height),
            min(max(x2, 0.0), width),
            min(max(y2, 0.0), height),
        ]
        if clipped != [x1, y1, x2, y2]:
            if not (clipped[2] > clipped[0] and clipped[3] > clipped[1]):
                self._bad(f"{where}: box {shown} lies entirely outside the {width}x{height} image", drop=True)
                return None
            self._bad(
                f"{where}: box {shown} reaches outside the {width}x{height} image (negative or too large coordinates)",
                drop=False,
            )
        return clipped

    def _bad(self, message: str, *, drop: bool) -> None:
        if self.policy == "raise":
            raise DataError(f"{message}. Fix the annotation, or pass bad_boxes='fix' to clip/drop such boxes.")
        self.dropped += drop
        self.clipped += not drop
        self.first = self.first or message
        return None

    def report(self, stage: str) -> None:
        if self.clipped or self.dropped:
            warnings.warn(
                f"Fixed {self.clipped + self.dropped} boxes in the {stage} data: clipped {self.clipped} to the "
                f"image, dropped {self.dropped} with no area. First: {self.first}.",
                stacklevel=4,
            )


def _fmt(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in box) + "]"


def make_sample(filepath: Any, boxes: list, labels: list, *, metadata: dict | None = None) -> dict:
    return {INPUT: filepath, TARGET: {"boxes": boxes, "labels": labels}, METADATA: dict(metadata or {})}


class DetectionInput(Input):
    """Base: samples whose ``input`` is a path, PIL image or array; loads and converts images to RGB."""

    def load_sample(self, sample: dict) -> dict:
        value = sample[INPUT]
        if isinstance(value, (str, os.PathLike)):
            sample[INPUT] = load_image(value)
            sample.setdefault(METADATA, {})["filepath"] = str(value)
        elif not hasattr(value, "convert"):  # arrays and tensors; PIL images pass through
            sample[INPUT] = image_from_array(value)
        return sample

    def checked(self, samples: list[dict], bad_boxes: BadBoxes) -> list[dict]:
        """Run every sample's boxes through the box check (sizes from the image headers)."""
        checker = BoxChecker(bad_boxes)
        for sample in samples:
            target = sample.get(TARGET)
            if target is None:
                continue
            path, where = sample[INPUT], sample[METADATA].get("where") or f"image '{sample[INPUT]}'"
            size = image_size(path, where=where) if isinstance(path, (str, os.PathLike)) else _array_size(path)
            kept = [
                (checker.check(box, size, where=where), label) for box, label in zip(target["boxes"], target["labels"])
            ]
            kept = [(box, label) for box, label in kept if box is not None]
            sample[TARGET] = {"boxes": [b for b, _ in kept], "labels": [lab for _, lab in kept]}
        checker.report(self.stage)
        return samples


def _array_size(image: Any) -> tuple[int, int]:
    if hasattr(image, "size") and not callable(image.size) and hasattr(image, "mode"):  # PIL
        return image.height, image.width
    return tuple(image_from_array(image).size[::-1])


class FilesInput(DetectionInput):
    """Image files (or in-memory images) with per-image lists of labels and
    ``{"xmin","ymin","width","height"}`` boxes."""

    def load_data(
        self,
        files: Sequence[Any],
        targets: Sequence[Sequence[Any]] | None = None,
        bboxes: Sequence[Sequence[dict]] | None = None,
        *,
        bad_boxes: BadBoxes = "fix",
    ) -> list[dict]:
        files = [local_file(f) if is_url(f) else f for f in files]  # URLs are downloaded to the cache
        if targets is None and bboxes is None:
            return [{INPUT: f, METADATA: _file_meta(f)} for f in files]
        if targets is None or bboxes is None or not (len(files) == len(targets) == len(bboxes)):
            raise DataError(
                f"The {self.stage} files, targets and bboxes must be lists of the same length. Received: "
                f"{len(files)} files, {_len(targets)} targets, {_len(bboxes)} bboxes."
            )
        samples = []
        for i, (file, labels, boxes) in enumerate(zip(files, targets, bboxes)):
            where = f"{self.stage} item {i} (image {_name(file)})"
            if len(labels) != len(boxes):
                raise DataError(f"{where}: {len(labels)} targets but {len(boxes)} bboxes; give one target per box.")
            samples.append(
                make_sample(
                    file,
                    [_xywh_dict_to_xyxy(b, where=where) for b in boxes],
                    list(labels),
                    metadata={**_file_meta(file), "where": where},
                )
            )
        return self.checked(samples, bad_boxes)


def _len(value: Any) -> Any:
    return None if value is None else len(value)


def _name(file: Any) -> str:
    return f"'{file}'" if isinstance(file, (str, os.PathLike)) else type(file).__name__


def _file_meta(file: Any) -> dict:
    return {"filepath": str(file)} if isinstance(file, (str, os.PathLike)) else {}


def _xywh_dict_to_xyxy(box: Any, *, where: str) -> list[float]:
    if not isinstance(box, dict) or any(k not in box for k in BOX_KEYS):
        raise DataError(f"{where}: a bbox must be a dict with keys {', '.join(BOX_KEYS)}. Received: {box!r}")
    x, y, w, h = (float(box[k]) for k in BOX_KEYS)
    return [x, y, x + w, y + h]


class FolderInput(DetectionInput):
    """Every image in a folder (sorted), without targets: for prediction."""

    def load_data(self, folder: str | os.PathLike) -> list[dict]:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"The {self.stage} folder '{folder}' does not exist or is not a folder.")
        files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
        return [{INPUT: str(p), METADATA: {"filepath": str(p)}} for p in files]


class DatasetInput(DetectionInput):
    """A map-style dataset of ``(image, {"boxes": XYXY, "labels": [...]})`` pairs or dicts of columns (see
    :func:`read_item`)."""

    def load_data(self, dataset: Any, *, bad_boxes: BadBoxes = "fix", input_field: str = "image",
                  target_field: str = "objects", box_format: BoxFormat = "xyxy") -> list[dict]:
        self.label_names = names = feature_names(getattr(dataset, "features", None), target_field)
        samples = []
        for i in range(len(dataset)):
            where = f"{self.stage} dataset item {i}"
            image, target, extra = read_item(dataset[i], where=where, input_field=input_field,
                                             target_field=target_field, needs_target=False)
            meta = {**extra, **_file_meta(image), "where": where}
            if target is None:
                samples.append({INPUT: image, METADATA: meta})
            else:
                target = split_target(target, where=where, box_format=box_format)
                if names:  # a ClassLabel's indices -> its names, indexed with the label map's
                    target["labels"] = [names[n] if isinstance(n, int) and 0 <= n < len(names) else n
                                        for n in target["labels"]]
                samples.append(make_sample(image, target["boxes"], target["labels"], metadata=meta))
        return self.checked(samples, bad_boxes)


BoxFormat = Literal["xyxy", "xywh"]
BOX_NAMES = ("boxes", "bbox", "bboxes")  # a target's boxes, by the names data sets give them
LABEL_NAMES = ("labels", "category", "categories", "label")  # and its classes


def read_item(item: Any, *, where: str, input_field: str, target_field: str,
              needs_target: bool) -> tuple[Any, Any, dict]:
    """``(image, target or None, scalar extra columns)`` of a dataset item: an ``(image, target)`` pair, or a dict of
    columns (``input_field`` / ``target_field``, or flash's own ``"input"`` / ``"target"`` keys)."""
    if isinstance(item, Mapping):
        image_key, target_key = ((INPUT, TARGET) if INPUT in item and input_field not in item
                                 else (input_field, target_field))
        missing = [k for k in (image_key, target_key) if k not in item and (k == image_key or needs_target)]
        if missing:
            raise DataError(f"{where} has no {missing[0]!r} field; its fields are {sorted(item)}. Pass "
                            "input_field=... / target_field=... (a .tar shard's fields are its members' extensions, "
                            f"e.g. 'jpg' and 'json'). Received: input_field={input_field!r}, "
                            f"target_field={target_field!r}")
        extra = {k: v for k, v in item.items() if k not in (image_key, target_key) and isinstance(v, (str, int, float))}
        return item[image_key], item.get(target_key), extra  # ids, file names: kept beside the predictions
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 2:
        target = item[1] if len(item) > 1 else None
        if target is None and needs_target:
            raise DataError(f"{where} has an image but no target: yield (image, {{'boxes': ..., 'labels': ...}}) "
                            f"pairs. Received: a {type(item).__name__} of {len(item)}")
        return item[0], target, {}
    if needs_target:
        raise DataError(f"{where} must be an (image, target) pair or a dict of columns. "
                        f"Received: {type(item).__name__}")
    return item, None, {}


def split_target(target: Any, *, where: str, box_format: BoxFormat = "xyxy") -> dict:
    """``{"boxes": XYXY lists, "labels": list}`` from a target: a dict of boxes and labels (``boxes``/``bbox``,
    ``labels``/``category``) or a list of one dict per box; ``box_format="xywh"`` reads ``[x, y, width, height]``."""
    if isinstance(target, (list, tuple)) and all(isinstance(t, Mapping) for t in target):
        target = {k: [t.get(k) for t in target] for k in (target[0] if target else {"boxes": (), "labels": ()})}
    if not isinstance(target, Mapping):
        raise DataError(f"{where}: a target must be a dict of boxes and labels, e.g. {{'boxes': [[x1, y1, x2, y2]], "
                        f"'labels': ['cat']}}. Received: {type(target).__name__}")
    box_key = next((k for k in BOX_NAMES if k in target), None)
    label_key = next((k for k in LABEL_NAMES if k in target), None)
    if box_key is None or label_key is None:
        raise DataError(f"{where}: the target has no {'boxes' if box_key is None else 'labels'}; its keys are "
                        f"{sorted(target)}. Name them one of {list(BOX_NAMES)} and one of {list(LABEL_NAMES)}.")
    boxes, labels = _as_list(target[box_key]), _as_list(target[label_key])
    if len(boxes) != len(labels):
        raise DataError(f"{where}: {len(boxes)} boxes but {len(labels)} labels; give one label per box.")
    if box_format == "xywh":
        boxes = [_xywh_to_xyxy(box, where=where) for box in boxes]
    return {"boxes": boxes, "labels": labels}


def _as_list(value: Any) -> list:
    return value.tolist() if hasattr(value, "tolist") else list(value or [])


def _xywh_to_xyxy(box: Any, *, where: str) -> list[float]:
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise DataError(f"{where}: a box needs 4 numbers [x, y, width, height]. Received: {box!r}") from None
    return [x, y, x + w, y + h]


def feature_names(features: Any, target_field: str) -> list[str] | None:
    """The class names a ``ClassLabel`` under the target column declares (``objects.category``), or None."""
    feature = features.get(target_field) if isinstance(features, Mapping) else None
    inner = getattr(feature, "feature", feature)  # Sequence / List of dicts or of ClassLabel
    if isinstance(inner, Mapping):
        key = next((k for k in LABEL_NAMES if k in inner), None)
        inner = inner.get(key) if key is not None else None
        inner = getattr(inner, "feature", inner)
    names = getattr(inner, "names", None)
    return list(names) if names else None
