"""Reading images from disk or memory, converted once and correctly to RGB.

Handles every PIL mode users meet: L, LA, RGBA and P (transparency composited on white),
CMYK, and 16/32-bit greyscale (I;16, I, F; rescaled to 8 bits). Files are turned upright by
their EXIF orientation (phone photos). Errors name the file and say what it is: missing, a folder,
a decompression bomb, not an image, or corrupt/truncated.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from flash.errors import DataError, require

EXIF_ORIENTATION = 0x0112  # 1 upright; 2-4 mirrored / turned 180 degrees; 5-8 turned 90 degrees (sides swap)
SWAPS_SIDES = (5, 6, 7, 8)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")


def is_image_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def to_rgb(image: Any) -> Any:
    """A PIL image of any mode -> an 8-bit RGB PIL image."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        if mode == "F":  # floats in [0, 1], in [0, 255], or any other range (scaled by the maximum)
            peak = float(array.max(initial=0.0))
            top = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else peak
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def exif_orientation(image: Any) -> int:
    """The EXIF orientation tag (1..8) of a PIL image; 1 (upright) when absent or unreadable."""
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - broken EXIF blocks must not stop reading the pixels
        return 1
    return value if 1 <= value <= 8 else 1


def upright(image: Any) -> Any:
    """Apply the EXIF orientation (phone photos are stored sideways with a tag saying so)."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(image) if exif_orientation(image) != 1 else image


def upright_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of the image as shown upright (EXIF orientation applied), from the header only."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        return (width, height) if exif_orientation(image) in SWAPS_SIDES else (height, width)


def describe_image_error(path: str | os.PathLike, err: BaseException) -> str:
    """What is wrong with ``path``, said plainly, for an exception PIL (or the OS) raised reading it."""
    from PIL import Image, UnidentifiedImageError

    if os.path.isdir(path):
        return f"Cannot read image '{path}': it is a folder, not an image file. Rename or move the folder."
    if isinstance(err, FileNotFoundError):
        return f"Cannot read image '{path}': the file does not exist. Check the path (and images_root)."
    if isinstance(err, PermissionError):
        return f"Cannot read image '{path}': permission denied. Check the file's permissions."
    if isinstance(err, Image.DecompressionBombError):
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = f"{int(found.group(1)):,} pixels" if found else "more pixels than allowed"
        return (f"Cannot read image '{path}': it declares {pixels}, over PIL's decompression-bomb limit of "
                f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} (a small file that would fill the memory when decoded). "
                "Remove it, or if you trust the file raise PIL.Image.MAX_IMAGE_PIXELS.")
    if isinstance(err, UnidentifiedImageError):
        return f"Cannot read image '{path}': not an image file PIL can decode. Remove or replace the file."
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"Cannot read image '{path}': {reason}. The file is corrupt or truncated; remove or replace it."


def load_image(path: str | os.PathLike, *, min_size: tuple[int, int] | None = None) -> Any:
    """Open and fully decode an image file as upright RGB; a bad file raises DataError naming it.

    ``min_size`` ``(height, width)``: the smallest image the caller needs (it resizes to that size next).
    A JPEG at least twice as large is then decoded at 1/2, 1/4 or 1/8 scale by the JPEG decoder itself
    (PIL's draft mode), never below ``min_size``: 1.6-2.4x faster for photos shrunk to a model's input
    (``benchmarks/image_data_throughput.py``). Other formats are decoded whole.
    """
    require("PIL", "image", purpose="reading images")
    from PIL import Image

    try:
        with Image.open(path) as image:
            if min_size is not None:
                draft(image, min_size)
            image.load()
            return to_rgb(upright(image))
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(describe_image_error(path, err)) from None


def draft(image: Any, min_size: tuple[int, int]) -> None:
    """Ask the JPEG decoder for the smallest power-of-two reduction still at least ``min_size`` when upright."""
    if image.format != "JPEG":
        return
    height, width = min_size
    if exif_orientation(image) in SWAPS_SIDES:  # the file stores the picture sideways: its width is the height
        height, width = width, height
    image.draft(image.mode, (width, height))  # the same mode: only the scale changes


def check_image(path: str | os.PathLike, *, verify: bool = True, decode: bool = False) -> str | None:
    """Check a file is a readable image; returns an error message or None.

    ``verify=False`` parses the header only; ``decode=True`` decodes every byte (at reduced scale for
    JPEG, so it stays cheap): the only check that finds truncated files.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            if decode:
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
            elif verify:
                image.verify()
        return None
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        return describe_image_error(path, err)


def check_finite(array: Any, *, where: str) -> None:
    """Raise a DataError when a float image array holds NaN or infinite values (one NaN can whiten an image)."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    if not hasattr(array, "dtype") or np.asarray(array).dtype.kind not in "fc":
        return
    finite = np.isfinite(np.asarray(array))
    if not finite.all():
        raise DataError(f"The image {where} holds {int(finite.size - finite.sum())} NaN or infinite values. Clean the "
                        f"array (e.g. numpy.nan_to_num) or drop the image. Received: image {where}")


def check_finite_images(images: Sequence[Any], *, stage: str) -> None:
    """``check_finite`` over a batch of images, naming the index of the first bad one."""
    for index, image in enumerate(images):
        check_finite(image, where=f"at index {index} of the {stage} data")


def image_from_array(array: Any) -> Any:
    """A HWC / CHW / HW uint8 or float array or tensor -> RGB PIL image."""
    from PIL import Image

    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    check_finite(array, where=f"of shape {array.shape}")
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        top = 255.0 if array.max(initial=0) > 1.0 else 1.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
    if array.ndim not in (2, 3):
        raise DataError(
            f"Expected an image array of shape (H, W), (H, W, C) or (C, H, W). Received: shape={array.shape}"
        )
    return to_rgb(Image.fromarray(array))


def as_rgb_image(value: Any, *, min_size: tuple[int, int] | None = None) -> Any:
    """A path, PIL image, NumPy array or tensor -> RGB PIL image (the one entry point for tasks).

    ``min_size``: as for :func:`load_image` (files only), so prediction decodes as training did.
    """
    if isinstance(value, (str, os.PathLike)):
        return load_image(value, min_size=min_size)
    if hasattr(value, "mode") and hasattr(value, "convert"):
        return to_rgb(upright(value))
    return image_from_array(value)


def decode_image(data: bytes, *, name: str, min_size: tuple[int, int] | None = None) -> Any:
    """The bytes of an image file (an upload) -> upright RGB, as :func:`load_image` reads the same file.

    Unreadable bytes raise :class:`~flash.core.serving.InputError` naming ``name`` (413 for a decompression bomb,
    415 otherwise), which ``flash serve`` answers with that status.
    """
    require("PIL", "image", purpose="reading images")
    from PIL import Image, UnidentifiedImageError

    from flash.core.serving import InputError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if min_size is not None:
                draft(image, min_size)
            image.load()
            return to_rgb(upright(image))
    except Image.DecompressionBombError as err:
        raise InputError(f"Image '{name}' has too many pixels ({err}). Send a smaller image.", status=413) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        reason = "unknown format" if isinstance(err, UnidentifiedImageError) else str(err).split("\n")[0]
        raise InputError(f"'{name}' is not an image flash can read (PNG, JPEG, BMP, GIF, TIFF, WebP): "
                         f"{reason or type(err).__name__}. Received: {len(data)} bytes") from None
