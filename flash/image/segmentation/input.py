"""Segmentation ``Input`` classes: images paired with masks, read one sample at a time.

A sample before transforms::

    {"input": "images/1.png", "target": "masks/1.png", "metadata": {"filepath": "images/1.png", "mask": ...}}

Building an Input lists and pairs files only (and reads the header of one mask to say which kind the masks
are); images and masks are decoded when the DataLoader asks for a sample, and checked then: a mask of
another size than its image, a class value outside ``num_classes``, an unreadable file, each named.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flash.core.data import INPUT, METADATA, TARGET, Input
from flash.errors import DataError
from flash.image.io import as_rgb_image, is_image_file, upright
from flash.image.segmentation.masks import (
    KIND_TEXT,
    LabelsMap,
    MaskKind,
    check_classes,
    mask_kind,
    mask_mode,
    read_mask,
)

MASK_SUFFIXES = ("_mask", "_masks", "-mask", "_label", "_labels", "_seg", "_gt", "_target")


def _images(folder: Path, *, stage: str, what: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"The {stage} {what} folder '{folder}' does not exist or is not a folder. "
                        f"Received: {stage}_{'target_' if what == 'mask' else ''}folder={str(folder)!r}")
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def _by_stem(files: list[Path], *, strip: bool, where: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in files:
        stem = path.stem
        if strip:
            stem = next((stem[: -len(s)] for s in MASK_SUFFIXES if stem.endswith(s) and len(stem) > len(s)), stem)
        if stem in found:
            raise DataError(f"Two files in {where} have the name {stem!r}: '{found[stem].name}' and '{path.name}'; "
                            "images and masks are paired by name, so each name must appear once. Rename one.")
        found[stem] = path
    return found


def pair_folders(image_folder: str | os.PathLike, mask_folder: str | os.PathLike, *,
                 stage: str) -> list[tuple[Path, Path]]:
    """``[(image, mask)]`` paired by file name without extension (``1.jpg`` with ``1.png`` or ``1_mask.png``).

    An image without a mask is an error naming it; masks without an image are skipped with one warning.
    """
    images = _by_stem(_images(Path(image_folder), stage=stage, what="image"), strip=False,
                      where=f"the {stage} image folder '{image_folder}'")
    masks = _by_stem(_images(Path(mask_folder), stage=stage, what="mask"), strip=True,
                     where=f"the {stage} mask folder '{mask_folder}'")
    if not masks:
        raise DataError(f"The {stage} mask folder '{mask_folder}' holds no mask images. Put one mask per image there "
                        f"(same name, PNG). Received: {stage}_target_folder={str(mask_folder)!r}")
    lonely = sorted(stem for stem in images if stem not in masks)
    if lonely:
        raise DataError(f"{len(lonely)} {stage} images have no mask in '{mask_folder}', e.g. "
                        f"'{images[lonely[0]].name}' (masks are paired by name: '{lonely[0]}.png'). Add the masks or "
                        f"move those images out. Received: {', '.join(lonely[:5])}")
    orphans = sorted(stem for stem in masks if stem not in images)
    if orphans:
        warnings.warn(f"{len(orphans)} masks in '{mask_folder}' have no image in '{image_folder}' and are skipped, "
                      f"e.g. '{masks[orphans[0]].name}'.", stacklevel=4)
    return [(images[stem], masks[stem]) for stem in sorted(images)]


class PairLoader:
    """Loads a sample of an image and its mask, and checks the pair: shared by the Inputs and the stream."""

    labels_map: LabelsMap | None = None
    num_classes: int | None = None
    ignore_index: int | None = None

    def configure(self, *, labels_map: LabelsMap | None, num_classes: int | None, ignore_index: int | None) -> None:
        self.labels_map, self.num_classes, self.ignore_index = labels_map, num_classes, ignore_index

    def load_sample(self, sample: dict) -> dict:
        value = sample[INPUT]
        meta = dict(sample.get(METADATA) or {})
        if isinstance(value, (str, os.PathLike)):
            meta["filepath"] = str(value)
        image = as_rgb_image(decoded(value, where=f"the image of {meta.get('where', 'a sample')}"))
        target = sample.get(TARGET)
        if target is not None:
            mask, where = self._mask(target, meta)
            if mask.shape != (image.height, image.width):
                raise DataError(f"{where} is {mask.shape[1]}x{mask.shape[0]} pixels but its image "
                                f"{_name(meta)} is {image.width}x{image.height}; a mask must have its image's size. "
                                "Fix or remove the pair. Received: mask size "
                                f"{mask.shape[1]}x{mask.shape[0]}, image size {image.width}x{image.height}")
            check_classes(mask, num_classes=self.num_classes, ignore_index=self.ignore_index, where=where)
            sample[TARGET] = mask
        sample[INPUT], sample[METADATA] = image, meta
        return sample

    def _mask(self, target: Any, meta: dict) -> tuple[np.ndarray, str]:
        if isinstance(target, (str, os.PathLike)):
            meta["mask"] = str(target)
            return read_mask(target, labels_map=self.labels_map), f"mask '{target}'"
        from flash.image.segmentation.masks import mask_from_array, mask_from_image

        where = f"the mask of {meta.get('where', 'a sample')}"
        target = decoded(target, where=where)
        if hasattr(target, "mode") and hasattr(target, "getchannel"):  # a PIL image: its mode says its kind
            return mask_from_image(upright(target), labels_map=self.labels_map, where=where), where
        array = target.detach().cpu().numpy() if hasattr(target, "detach") else np.asarray(target)
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        kind: MaskKind = "index" if array.ndim == 2 else ("colour" if self.labels_map else "red")
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
            raise DataError(f"{where} must be an (H, W) array of class indices or an (H, W, 3) RGB array. "
                            f"Received: shape={tuple(array.shape)}")
        return mask_from_array(array, kind=kind, labels_map=self.labels_map, where=where), where


class SegmentationInput(PairLoader, Input):
    """Base: samples whose input is an image (path, PIL image, array) and whose target is a mask (path or array)."""

    kind: MaskKind | None = None  # what the masks are, said by the DataModule

    def detect_kind(self) -> None:
        """The kind of the first mask file (its header only), or of the first mask array."""
        first = next((s[TARGET] for s in self.samples if s.get(TARGET) is not None), None)
        if isinstance(first, (str, os.PathLike)):
            self.kind = mask_kind(mask_mode(first), self.labels_map, where=f"mask '{first}'")
        elif first is not None:
            self.kind = "index" if np.asarray(first).ndim == 2 else ("colour" if self.labels_map else "red")

    @property
    def kind_text(self) -> str | None:
        return KIND_TEXT[self.kind] if self.kind else None


def _name(meta: dict) -> str:
    return f"'{meta['filepath']}'" if meta.get("filepath") else f"({meta.get('where', 'in memory')})"


class FoldersInput(SegmentationInput):
    """A folder of images and a folder of masks paired by name; a folder alone (no masks) for prediction."""

    def load_data(self, folder: str | os.PathLike, target_folder: str | os.PathLike | None = None, **config: Any):
        self.configure(**config)
        if target_folder is None:
            files = _images(Path(folder), stage=self.stage, what="image")
            return [{INPUT: str(p), METADATA: {"filepath": str(p)}} for p in files]
        return [{INPUT: str(image), TARGET: str(mask), METADATA: {"filepath": str(image)}}
                for image, mask in pair_folders(folder, target_folder, stage=self.stage)]


class FilesInput(SegmentationInput):
    """Image files (or in-memory images) with their mask files (or mask arrays), one per image."""

    def load_data(self, files: Sequence[Any], targets: Sequence[Any] | None = None, **config: Any) -> list[dict]:
        self.configure(**config)
        files = list(files)
        if targets is not None and len(targets) != len(files):
            raise DataError(f"The {self.stage} files and targets must be lists of the same length: one mask per "
                            f"image. Received: {len(files)} files, {len(targets)} targets")
        samples = []
        for i, file in enumerate(files):
            meta = {"where": f"{self.stage} item {i}", **({"filepath": str(file)} if _is_path(file) else {})}
            if _is_path(file) and not Path(file).is_file():
                raise DataError(f"The {self.stage} image '{file}' does not exist. Fix the path. Received: {file!r}")
            target = targets[i] if targets is not None else None
            if isinstance(target, (str, os.PathLike)) and not Path(target).is_file():
                raise DataError(f"The {self.stage} mask '{target}' (for image {_name(meta)}) does not exist. "
                                f"Fix the path. Received: {target!r}")
            samples.append({INPUT: file, TARGET: target, METADATA: meta} if target is not None
                           else {INPUT: file, METADATA: meta})
        return samples


def decoded(value: Any, *, where: str) -> Any:
    """An encoded image (``{"bytes": ..., "path": ...}``, as a Hugging Face ``Image(decode=False)`` column or a
    parquet struct gives it) -> a PIL image or its path; anything else as it is."""
    if not (isinstance(value, dict) and ("bytes" in value or "path" in value)):
        return value
    if not value.get("bytes"):
        return value.get("path")
    import io

    from PIL import Image

    try:
        return Image.open(io.BytesIO(value["bytes"]))
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(f"Cannot decode {where}: {err} (flash reads PNG, JPEG, BMP, TIFF, WebP). Fix or drop the "
                        f"item. Received: {len(value['bytes'])} bytes") from None


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


class DatasetInput(SegmentationInput):
    """A map-style dataset of ``(image, mask)`` pairs, ``{"input": image, "target": mask}`` dicts, or images."""

    def load_data(self, dataset: Any, *, input_field: str = INPUT, target_field: str = TARGET,
                  **config: Any) -> list[dict]:
        self.configure(**config)
        self.dataset, self.input_field, self.target_field = dataset, input_field, target_field
        return [{INPUT: i, METADATA: {"where": f"{self.stage} dataset item {i}"}} for i in range(len(dataset))]

    def load_sample(self, sample: dict) -> dict:
        index = sample[INPUT]
        item = self.dataset[index]
        if isinstance(item, dict):
            if self.input_field not in item:
                raise DataError(f"Item {index} of the {self.stage} dataset has no {self.input_field!r} field; its "
                                f"fields are {sorted(item)}. Pass input_field=... / target_field=.... "
                                f"Received: input_field={self.input_field!r}")
            image, target = item[self.input_field], item.get(self.target_field)
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            image, target = item
        else:
            image, target = item, None
        out = {INPUT: image, METADATA: sample[METADATA]}
        if target is not None:
            out[TARGET] = target
        return super().load_sample(out)

    def detect_kind(self) -> None:
        self.kind = None  # decided per item: a dataset is not read while building
