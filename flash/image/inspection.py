"""Measuring one image file for ``flash data inspect``: its size and mode. Shared by the image tasks' adapters.

Each file is opened once, from the bytes ``flash data inspect`` already read (and hashed): the header gives the
size and mode, ``verify`` checks the rest. No torch is imported.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.new("L", (30, 20)).save(path)
    >>> measure_image_bytes(Item("train", path=path), path.read_bytes()).measures
    {'image sizes': [(30, 20)]}
"""

from __future__ import annotations

import io

from flash.core.reporting.inspection import Item, Measurement
from flash.errors import DataError


def image_size(item: Item, data: bytes | None = None) -> tuple[Measurement, tuple[int, int]]:
    """The image's measurement and its ``(width, height)`` from its bytes (read from ``item.path`` when None).

    A file that is not a readable image raises ``DataError`` naming it and the fix.
    """
    from PIL import Image

    from flash.image.io import describe_image_error

    try:
        with Image.open(io.BytesIO(data) if data is not None else str(item.path)) as image:
            (width, height), mode = image.size, image.mode
            image.verify()
    except Exception as err:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(describe_image_error(str(item.path), err)) from None
    return Measurement(measures={"image sizes": [(width, height)]}, tallies={"image modes": [mode]}), (width, height)


def measure_image_bytes(item: Item, data: bytes) -> Measurement:
    """``{"image sizes": [(width, height)]}``, ``{"image modes": [mode]}``; an unreadable image raises ``DataError``."""
    return image_size(item, data)[0]


def measure_image(item: Item) -> Measurement:
    """:func:`measure_image_bytes` on the file at ``item.path``."""
    return image_size(item)[0]
