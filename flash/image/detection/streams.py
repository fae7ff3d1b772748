"""Streamed detection data: a Hugging Face ``IterableDataset``, a torch ``IterableDataset`` or a generator.

Each item is an ``(image, {"boxes": ..., "labels": ...})`` pair or a dict of columns: the image in
``input_field`` (a PIL image, an array, a path, or an undecoded ``{"bytes": ...}``) and the target in
``target_field``, a dict of boxes (``boxes`` / ``bbox``) and labels (``labels`` / ``category``), or a list of
one such dict per box. Boxes are ``XYXY`` pixels (``box_format="xywh"``: ``[x, y, width, height]``, COCO's).
Labels are class names, or indices of the declared names counted from 0 (a ``ClassLabel``'s): with
``labels=["cat", "dog"]``, 1 is "dog", index 2 of the label map (0 is the background).

The stream has no length, so its classes are declared up front: ``labels=``, ``num_classes=`` (counting the
background: the labels are then 0 .. num_classes - 2) or a ``ClassLabel`` feature under the target column.
Images decode in the DataLoader workers (``load_sample``); there the boxes are checked against the image
(``bad_boxes="fix"`` clips or drops bad ones, warning once per worker; ``"raise"``), and an unreadable image
raises, naming the item, or with ``on_bad_file="skip"`` is dropped with a warning. Splitting across DDP ranks and
workers, the shuffle buffer and exact resume are :class:`flash.core.data.StreamInput`'s.

Example:
    >>> stream = load_dataset("cppe-5", split="train", streaming=True)  # doctest: +SKIP
    >>> datamodule = ObjectDetectionData.from_datasets(  # doctest: +SKIP
    ...     train_dataset=stream, input_field="image", target_field="objects", box_format="xywh", batch_size=8)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from flash.core.data import INPUT, METADATA, TARGET, SkipSample, StreamInput
from flash.core.targets import TargetFormatter
from flash.errors import ConfigurationError, DataError
from flash.image.detection.inputs import BadBoxes, BoxChecker, BoxFormat, feature_names, read_item, split_target
from flash.image.io import as_rgb_image, decode_image

ON_BAD_FILE = ("raise", "skip")


class DetectionStreamInput(StreamInput):
    """One stage's stream of detection items (see the module's docstring)."""

    def __init__(self, stage: str, dataset: Any, *, input_field: str = "image", target_field: str = "objects",
                 box_format: BoxFormat = "xyxy", bad_boxes: BadBoxes = "fix", on_bad_file: str = "raise",
                 shuffle_buffer: int = 1000, seed: int = 0) -> None:
        if on_bad_file not in ON_BAD_FILE:
            raise ConfigurationError(f"on_bad_file must be 'raise' or 'skip'. Received: on_bad_file={on_bad_file!r}")
        if hasattr(dataset, "decode") and hasattr(dataset, "features"):  # a Hugging Face stream: images decode in
            dataset = dataset.decode(False)  # load_sample, where a bad one is named (or skipped)
        super().__init__(stage, dataset, shuffle_buffer=shuffle_buffer, seed=seed)
        self.input_field, self.target_field, self.box_format = input_field, target_field, box_format
        self.on_bad_file = on_bad_file
        self.checker = BoxChecker(bad_boxes)
        self.label_names = feature_names(getattr(dataset, "features", None), target_field)
        self._warned = False

    def to_sample(self, item: Any, index: int) -> dict:
        where = f"item {index} of the {self.stage} stream"
        needs_target = self.stage != "predict"
        image, target, extra = read_item(item, where=where, input_field=self.input_field,
                                         target_field=self.target_field, needs_target=needs_target)
        target = split_target(target, where=where, box_format=self.box_format) if needs_target else None
        return {INPUT: image, TARGET: target, METADATA: {"row": index, **extra, "where": where}}

    def load_sample(self, sample: dict) -> dict:
        where = sample[METADATA]["where"]
        try:
            image = as_rgb_image(_decoded(sample[INPUT], where=where))
        except (DataError, OSError, ValueError, TypeError) as err:
            if self.on_bad_file == "skip":
                raise SkipSample(f"{where}: {err}") from None
            raise DataError(f"Cannot read the image of {where}: {err}. Fix or drop the item, or pass "
                            "on_bad_file='skip' to skip such items.") from None
        sample[INPUT] = image
        target = sample.get(TARGET)
        if target is not None:
            size = (image.height, image.width)
            kept = [(self.checker.check(box, size, where=where), label)
                    for box, label in zip(target["boxes"], target["labels"])]
            sample[TARGET] = {"boxes": [b for b, _ in kept if b is not None],
                              "labels": [label for b, label in kept if b is not None]}
            if self.checker.first and not self._warned:
                self._warned = True
                warnings.warn(f"Fixed a box in the {self.stage} stream (further fixes are not reported): "
                              f"{self.checker.first}. Pass bad_boxes='raise' to stop at such boxes.", stacklevel=2)
        return sample


def _decoded(image: Any, *, where: str) -> Any:
    """An undecoded Hugging Face image (``{"bytes", "path"}``) or raw bytes -> PIL; anything else as it is."""
    if isinstance(image, Mapping) and ("bytes" in image or "path" in image):
        if image.get("bytes"):
            return decode_image(image["bytes"], name=image.get("path") or where)
        return image["path"]
    if isinstance(image, (bytes, bytearray)):
        return decode_image(bytes(image), name=where)
    if image is None or not (isinstance(image, (str, os.PathLike)) or hasattr(image, "convert")
                             or hasattr(image, "shape")):
        raise DataError(f"the image is a {type(image).__name__}, not a PIL image, an array, a path or bytes")
    return image


class BoxLabels(TargetFormatter):
    """A detection target's label names (or indices of the declared names, from 0) -> label-map indices.

    ``labels`` is the label map, background first. Formats streamed targets as they come, and map-style ones
    of the same DataModule up front.
    """

    def __init__(self, labels: list[Any]) -> None:
        super().__init__("names", len(labels), False, list(labels))
        self._indices = {name: i for i, name in enumerate(labels) if i > 0}
        self._by_position = all(isinstance(name, str) for name in labels[1:])

    def __call__(self, target: Any, *, where: str = "the data") -> Any:
        if target is None:
            return None
        return {**target, "labels": [self._one(label, where) for label in target["labels"]]}

    def _one(self, label: Any, where: str) -> int:
        label = label.item() if hasattr(label, "item") else label
        if label in self._indices and not isinstance(label, bool):
            return self._indices[label]
        names = self.labels or []
        if self._by_position and isinstance(label, int) and 0 <= label < len(names) - 1:
            return label + 1
        raise DataError(f"Label {label!r} in {where} is not in the label map {names[1:]} (integer labels index "
                        "it from 0). Declare it in labels=[...] (or a larger num_classes=), or fix the annotation.")
