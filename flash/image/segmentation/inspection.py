"""The ``inspect`` adapter: ``flash data inspect`` on a segmentation folder, every file read once.

It finds images without a mask and masks without an image, masks of another size than their image,
class values outside ``num_classes``, colours that ``labels_map`` does not name, unreadable files, and
counts pixels per class (the class balance segmentation cares about) per split. Results are plain data
(``Inspection``), for the all-task inspect page to show; nothing here imports ``flash.reports``.

Example:
    >>> result = inspect_folders({"train": ("images", "masks")}, num_classes=3)  # doctest: +SKIP
    >>> result.errors  # doctest: +SKIP
    ["mask 'masks/7.png' holds class 7 (...), but num_classes=3 allows 0..2 ..."]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from flash.errors import DataError
from flash.image.segmentation.input import MASK_SUFFIXES
from flash.image.segmentation.masks import LabelsMap, check_classes, check_labels_map, read_mask

IMBALANCE = 100.0  # most / least frequent class (in pixels) above this: a warning
Level = Literal["error", "warning"]


@dataclass
class Inspection:
    """Pixels per class per split, image sizes, mask kinds seen, and findings ``(level, message)``."""

    pixels: dict[str, Counter] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    findings: list[tuple[Level, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [message for level, message in self.findings if level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [message for level, message in self.findings if level == "warning"]


def _files(folder: Path) -> dict[str, Path]:
    from flash.image.io import is_image_file

    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and is_image_file(path):
            found.setdefault(path.stem, path)
    return found


def _mask_stem(stem: str) -> str:
    return next((stem[: -len(s)] for s in MASK_SUFFIXES if stem.endswith(s) and len(stem) > len(s)), stem)


def inspect_folders(splits: dict[str, tuple[str | Path, str | Path]], *, num_classes: int | None = None,
                    labels_map: LabelsMap | None = None, ignore_index: int | None = 255) -> Inspection:
    """Check ``{split: (image folder, mask folder)}``; see the module docstring."""
    result = Inspection()
    colours = check_labels_map(labels_map)
    for split, (image_folder, mask_folder) in splits.items():
        images, masks = _files(Path(image_folder)), {_mask_stem(s): p for s, p in _files(Path(mask_folder)).items()}
        if not masks:
            result.findings.append(("error", f"The {split} mask folder '{mask_folder}' holds no mask images."))
        for stem in sorted(set(images) - set(masks)):
            result.findings.append(("error", f"{split}: image '{images[stem]}' has no mask in '{mask_folder}' "
                                              f"(expected '{stem}.png'). Add it or move the image out."))
        for stem in sorted(set(masks) - set(images)):
            result.findings.append(("warning", f"{split}: mask '{masks[stem]}' has no image in '{image_folder}'; "
                                                "it is skipped."))
        pixels: Counter = Counter()
        for stem in sorted(set(images) & set(masks)):
            _check_pair(result, images[stem], masks[stem], pixels, num_classes=num_classes, labels_map=colours,
                        ignore_index=ignore_index)
        result.pixels[split], result.images[split] = pixels, len(set(images) & set(masks))
    _balance(result, num_classes)
    return result


def _check_pair(result: Inspection, image: Path, mask_path: Path, pixels: Counter, *, num_classes: int | None,
                labels_map: Any, ignore_index: int | None) -> None:
    from flash.image.io import check_image, upright_size

    problem = check_image(image, verify=False, decode=True)
    if problem:
        result.findings.append(("error", problem))
        return
    try:
        mask = read_mask(mask_path, labels_map=labels_map)
        size = upright_size(image)
        if mask.shape != size:
            raise DataError(f"mask '{mask_path}' is {mask.shape[1]}x{mask.shape[0]} pixels but its image '{image}' "
                            f"is {size[1]}x{size[0]}; a mask must have its image's size.")
        check_classes(mask, num_classes=num_classes, ignore_index=ignore_index, where=f"mask '{mask_path}'")
    except DataError as err:
        result.findings.append(("error", str(err)))
        return
    result.sizes.append(size)
    values, counts = np.unique(mask, return_counts=True)
    pixels.update({("ignored" if v == ignore_index else int(v)): int(c) for v, c in zip(values, counts)})


def _balance(result: Inspection, num_classes: int | None) -> None:
    train = Counter({k: v for k, v in result.pixels.get("train", Counter()).items() if k != "ignored"})
    if not train:
        return
    (top, most), (bottom, least) = train.most_common(1)[0], train.most_common()[-1]
    if least and most / least > IMBALANCE:
        result.findings.append(("warning", f"Strong class imbalance in train pixels: class {top} covers {most}, class "
                                           f"{bottom} {least} ({most / least:.0f}x). Consider loss_fn='dice' or "
                                           "'focal', or more examples of the rare class."))
    if num_classes is not None:
        absent = [c for c in range(num_classes) if c not in train]
        if absent:
            result.findings.append(("warning", f"Classes never present in the training masks: {absent}. The model "
                                               "cannot learn them."))
