"""Reading images from disk or memory, converted once and correctly to RGB.

Handles every PIL mode users meet: L, LA, RGBA and P (transparency composited on white),
CMYK, and 16/32-bit greyscale (I;16, I, F; rescaled to 8 bits). Errors name the file.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flash.errors import DataError, require

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


def load_image(path: str | os.PathLike) -> Any:
    """Open and fully decode an image file as RGB; a bad file raises DataError naming it."""
    require("PIL", "image", purpose="reading images")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (FileNotFoundError, IsADirectoryError):
        raise DataError(
            f"Cannot read image '{path}': the file does not exist. Check the path (and images_root)."
        ) from None
    except UnidentifiedImageError:
        raise DataError(
            f"Cannot read image '{path}': not an image file PIL can decode. Remove or replace the file."
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"Cannot read image '{path}': {err}. The file is corrupt or truncated; remove or replace it."
        ) from None


def check_image(path: str | os.PathLike, *, verify: bool = True) -> str | None:
    """A cheap header check (``verify=False``: only parse the header); returns an error message or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if verify:
                image.verify()
        return None
    except FileNotFoundError:
        return f"Cannot read image '{path}': the file does not exist. Check the path (and images_root)."
    except UnidentifiedImageError:
        return f"Cannot read image '{path}': not an image file PIL can decode. Remove or replace the file."
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        return f"Cannot read image '{path}': {err}. The file is corrupt or truncated; remove or replace it."


def image_from_array(array: Any) -> Any:
    """A HWC / CHW / HW uint8 or float array or tensor -> RGB PIL image."""
    from PIL import Image

    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
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


def as_rgb_image(value: Any) -> Any:
    """A path, PIL image, NumPy array or tensor -> RGB PIL image (the one entry point for tasks)."""
    if isinstance(value, (str, os.PathLike)):
        return load_image(value)
    if hasattr(value, "mode") and hasattr(value, "convert"):
        return to_rgb(value)
    return image_from_array(value)
