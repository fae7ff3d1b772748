"""The ``inspect`` adapter: ``flash data inspect`` on a folder of images and masks paired by name.

``read`` pairs the files as ``from_folders`` does and reads each mask once: an image without a mask, a mask
without an image, a class value outside ``num_classes`` (when given), a colour that ``labels_map`` does not
name and an unreadable mask are errors naming the file. The classes a mask holds are its item's labels
(counted per mask). ``measure`` reads the image: a mask of another size is an error; each mask's share of
pixels per class is measured (the class balance that matters for segmentation: a class on many masks may
still cover few pixels).

Example:
    >>> from flash.image.segmentation.entry import ENTRY
    >>> ENTRY.adapter("inspect").labels, ENTRY.adapter("inspect").counted
    ('multi-labels', 'masks')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flash.core.reporting.inspection import InspectAdapter, Item, Measurement
from flash.errors import DataError
from flash.image.inspection import image_size
from flash.image.segmentation.input import MASK_SUFFIXES
from flash.image.segmentation.masks import check_classes, check_labels_map, read_mask


@dataclass
class MaskedItem(Item):
    """An image whose mask was read: its size, and each class's share of its pixels (``"ignored"`` included)."""

    mask: Path | None = None
    mask_size: tuple[int, int] | None = None  # (height, width)
    shares: dict[str, float] = field(default_factory=dict)


def _files(folder: Path) -> dict[str, Path]:
    from flash.image.io import is_image_file

    if not folder.is_dir():
        raise DataError(f"The folder '{folder}' does not exist. Check --data. Received: {folder}")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and is_image_file(p)}


def _mask_stem(stem: str) -> str:
    return next((stem[: -len(s)] for s in MASK_SUFFIXES if stem.endswith(s) and len(stem) > len(s)), stem)


def read(split: str, constructor: str, kwargs: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
    """``from_folders``: one item per image with a readable mask, labelled by the classes its mask holds.

    Each mask is read here, once (the labels are counted before files are measured); an image without a mask, a
    mask without an image, and a mask that cannot be read as classes are errors, each naming its file.
    """
    image_folder, mask_folder = Path(kwargs["train_folder"]), Path(kwargs["train_target_folder"])
    images = _files(image_folder)
    masks = {_mask_stem(stem): path for stem, path in _files(mask_folder).items()}
    if not masks:
        raise DataError(f"The {split} mask folder '{mask_folder}' holds no mask images. Put one mask per image there "
                        "(same name, PNG).")
    errors = [f"Image '{images[stem]}' has no mask in '{mask_folder}' (masks pair with images by name: "
              f"'{stem}.png'). Add the mask or move the image out." for stem in sorted(set(images) - set(masks))]
    errors += [f"Mask '{masks[stem]}' has no image in '{image_folder}'; it is skipped. Add the image or remove the "
               "mask." for stem in sorted(set(masks) - set(images))]
    items: list[Item] = []
    for stem in sorted(set(images) & set(masks)):
        try:
            items.append(_read_pair(split, images[stem], masks[stem], kwargs))
        except DataError as err:
            errors.append(str(err))
    return items, errors


def _read_pair(split: str, image: Path, mask_path: Path, kwargs: Mapping[str, Any]) -> MaskedItem:
    mask = read_mask(mask_path, labels_map=check_labels_map(kwargs.get("labels_map")))
    ignore, names = kwargs.get("ignore_index", 255), kwargs.get("labels")
    check_classes(mask, num_classes=kwargs.get("num_classes"), ignore_index=ignore, where=f"mask '{mask_path}'")
    values, counts = np.unique(mask, return_counts=True)
    named = {int(v): ("ignored" if v == ignore else str(names[v]) if names and v < len(names) else str(int(v)))
             for v in values}
    return MaskedItem(split, path=image, label=[named[int(v)] for v in values if v != ignore], mask=mask_path,
                      mask_size=(int(mask.shape[0]), int(mask.shape[1])),
                      shares={named[int(v)]: round(int(c) / mask.size, 4) for v, c in zip(values, counts)})


def measure(item: Item, data: bytes) -> Measurement:
    """Image size and mode (from the file's bytes); a mask of another size is an error; each class's share of the
    mask's pixels."""
    measurement, (width, height) = image_size(item, data)
    if not isinstance(item, MaskedItem):
        return measurement
    if item.mask_size != (height, width):
        mask_h, mask_w = item.mask_size or (0, 0)
        raise DataError(f"mask '{item.mask}' is {mask_w}x{mask_h} pixels but its image '{item.path}' is "
                        f"{width}x{height}; a mask must have its image's size. Fix or remove the pair.")
    for name, share in item.shares.items():
        measurement.measures[f"share of pixels: {name}"] = [share]
    return measurement


INSPECT = InspectAdapter(read=read, measure_bytes=measure, labels="multi-labels", counted="masks")
