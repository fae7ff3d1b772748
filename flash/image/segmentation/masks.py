"""Reading segmentation masks: which kind a mask file is, and its ``(H, W)`` class-index array.

Three kinds of mask files are read, told apart by the file's mode (its header) and ``labels_map``:

- ``"index"``: single-channel PNGs (modes ``L``, ``I;16``, ``I``, ``1``) and palette PNGs (``P``, as Pascal
  VOC's) whose pixel values *are* the class indices;
- ``"red"``: RGB PNGs whose class index sits in the red channel (Lightning Flash's CARLA data); read only
  when green and blue carry nothing (one value each, or equal to red), else the file is a colour mask;
- ``"colour"``: RGB masks whose colours map to classes through ``labels_map`` (``{class: (r, g, b)}``).

Every error names the file, the value and the fix.

Example:
    >>> import numpy as np
    >>> colours_to_classes(np.array([[[0, 0, 0], [255, 0, 0]]], dtype=np.uint8), {0: (0, 0, 0), 1: (255, 0, 0)},
    ...                    where="mask 'a.png'").tolist()
    [[0, 1]]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from flash.errors import ConfigurationError, DataError

MaskKind = Literal["index", "red", "colour"]
INDEX_MODES = ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "LA", "PA")
COLOUR_MODES = ("RGB", "RGBA", "RGBX")
KIND_TEXT = {
    "index": "single-channel class-index masks (each pixel value is its class)",
    "red": "RGB masks with the class index in the red channel (as Lightning Flash's CARLA data)",
    "colour": "RGB colour masks, colours mapped to classes through labels_map",
}
LabelsMap = Mapping[int, Sequence[int]]


def check_labels_map(labels_map: Any) -> dict[int, tuple[int, int, int]] | None:
    """``{class index: (r, g, b)}`` checked: int keys, 3 ints in 0..255 per colour, no colour twice."""
    if labels_map is None:
        return None
    if not isinstance(labels_map, Mapping) or not labels_map:
        raise ConfigurationError("labels_map must be a non-empty dict {class index: (r, g, b)}, e.g. "
                                 f"{{0: (0, 0, 0), 1: (128, 0, 0)}}. Received: labels_map={labels_map!r}")
    checked: dict[int, tuple[int, int, int]] = {}
    for key, colour in labels_map.items():
        values = tuple(colour) if isinstance(colour, (list, tuple)) else ()
        if not isinstance(key, int) or len(values) != 3 or not all(isinstance(v, int) and 0 <= v <= 255
                                                                   for v in values):
            raise ConfigurationError(f"labels_map maps class indices (ints) to (r, g, b) colours of 3 ints in "
                                     f"0..255. Received: labels_map[{key!r}]={colour!r}")
        checked[key] = (values[0], values[1], values[2])
    seen: dict[tuple[int, int, int], int] = {}
    for key, colour in checked.items():
        if colour in seen:
            raise ConfigurationError(f"labels_map gives classes {seen[colour]} and {key} the same colour {colour}; "
                                     f"a colour must name one class. Received: labels_map={labels_map!r}")
        seen[colour] = key
    return checked


def mask_mode(path: str | os.PathLike) -> str:
    """The PIL mode of a mask file, from its header only; a missing or unreadable file names itself."""
    from PIL import Image

    from flash.image.io import describe_image_error

    try:
        with Image.open(path) as image:
            return str(image.mode)
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(describe_image_error(path, err).replace("image", "mask", 1)) from None


def mask_kind(mode: str, labels_map: LabelsMap | None, *, where: str) -> MaskKind:
    """Which kind of mask a file of PIL ``mode`` is (see the module docstring)."""
    if mode in INDEX_MODES:
        return "index"
    if mode in COLOUR_MODES:
        return "colour" if labels_map else "red"
    raise DataError(f"{where} has mode {mode!r}, which flash cannot read as a mask. Save masks as single-channel "
                    f"class-index PNGs (mode L) or RGB PNGs. Received: mode={mode!r}")


def read_mask(path: str | os.PathLike, *, labels_map: LabelsMap | None = None) -> np.ndarray:
    """Decode a mask file into an ``(H, W)`` int64 class-index array (upright, as its image is read)."""
    from PIL import Image

    from flash.image.io import describe_image_error, upright

    where = f"mask '{path}'"
    try:
        with Image.open(path) as image:
            image.load()
            return mask_from_image(upright(image), labels_map=labels_map, where=where)
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(describe_image_error(path, err).replace("image", "mask", 1)) from None


def mask_from_image(image: Any, *, labels_map: LabelsMap | None, where: str) -> np.ndarray:
    """A decoded PIL mask (a file's, or one a Hugging Face ``Image`` column gives) -> ``(H, W)`` int64 classes.

    Its mode says its kind, as for a file (see the module docstring)."""
    kind = mask_kind(image.mode, labels_map, where=where)
    if image.mode in ("LA", "PA"):
        image = image.getchannel(0)
    array = np.asarray(image.convert("RGB") if kind != "index" and image.mode != "RGB" else image)
    return mask_from_array(array, kind=kind, labels_map=labels_map, where=where)


def mask_from_array(array: np.ndarray, *, kind: MaskKind, labels_map: LabelsMap | None, where: str) -> np.ndarray:
    """An ``(H, W)`` index array or an ``(H, W, 3)`` RGB array -> ``(H, W)`` int64 class indices."""
    if kind == "index":
        return np.asarray(array, dtype=np.int64)
    rgb = np.asarray(array)[..., :3]
    if kind == "colour":
        return colours_to_classes(rgb, labels_map or {}, where=where)
    return red_channel(rgb, where=where)


def red_channel(rgb: np.ndarray, *, where: str) -> np.ndarray:
    """The red channel as classes when green and blue carry nothing (each one value, as CARLA's masks, or equal
    to red: a grey mask saved as RGB); else the file is a colour mask and needs a labels_map."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    grey = np.array_equal(red, green) and np.array_equal(red, blue)
    if not grey and (green.min() != green.max() or blue.min() != blue.max()):
        colours = np.unique(_codes(rgb))
        shown = ", ".join(str(_rgb(c)) for c in colours[:4])
        raise DataError(f"{where} is an RGB colour mask ({len(colours)} colours, e.g. {shown}), not a class index in "
                        "the red channel. Pass labels_map={class index: (r, g, b), ...} to map colours to classes. "
                        "Received: labels_map=None")
    return red.astype(np.int64)


def colours_to_classes(rgb: np.ndarray, labels_map: LabelsMap, *, where: str) -> np.ndarray:
    """Map every pixel's colour to its class through ``labels_map``; a colour missing from it names the file."""
    codes = _codes(rgb)
    colours, inverse = np.unique(codes.reshape(-1), return_inverse=True)
    lookup = {(r << 16) | (g << 8) | b: index for index, (r, g, b) in labels_map.items()}
    missing = [c for c in colours.tolist() if c not in lookup]
    if missing:
        count = int(np.isin(codes, missing).sum())
        raise DataError(f"{where} has {count} pixels of colour {_rgb(missing[0])}"
                        f"{f' (and {len(missing) - 1} more colours)' if len(missing) > 1 else ''}, which labels_map "
                        f"does not name. Add it to labels_map (e.g. {{..., <class>: {_rgb(missing[0])}}}) or fix the "
                        f"mask. Received: labels_map colours {sorted(tuple(c) for c in labels_map.values())}")
    classes = np.array([lookup[c] for c in colours.tolist()], dtype=np.int64)
    return classes[inverse].reshape(codes.shape)


def _codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _rgb(code: int) -> tuple[int, int, int]:
    return (int(code) >> 16 & 255, int(code) >> 8 & 255, int(code) & 255)


def check_classes(mask: np.ndarray, *, num_classes: int | None, ignore_index: int | None, where: str) -> None:
    """Every value of ``mask`` is a class (``0..num_classes-1``) or ``ignore_index``; else a DataError naming it."""
    if num_classes is None:
        return
    values = np.unique(mask)
    bad = [int(v) for v in values if (v < 0 or v >= num_classes) and v != ignore_index]
    if bad:
        count = int(np.isin(mask, bad).sum())
        raise DataError(f"{where} holds class {bad[0]} ({count} pixels{f', and values {bad[1:4]}' if bad[1:] else ''})"
                        f", but num_classes={num_classes} allows 0..{num_classes - 1}"
                        f"{f' (and {ignore_index}, ignored)' if ignore_index is not None else ''}. Pass a larger "
                        f"num_classes or fix the mask. Received: num_classes={num_classes}")
