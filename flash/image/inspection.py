"""Measuring one image file for ``flash data inspect``: its size and mode. Shared by the image tasks' adapters.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.new("L", (30, 20)).save(path)
    >>> measure_image(Item("train", path=path)).measures
    {'image sizes': [(30, 20)]}
"""

from __future__ import annotations

from flash.core.reporting.inspection import Item, Measurement
from flash.errors import DataError


def image_size(item: Item) -> tuple[Measurement, tuple[int, int]]:
    """The image's measurement and its ``(width, height)``; a file that is not a readable image raises ``DataError``."""
    from PIL import Image

    from flash.image.io import check_image

    problem = check_image(str(item.path))
    if problem:
        raise DataError(problem)
    with Image.open(str(item.path)) as image:
        (width, height), mode = image.size, image.mode
    return Measurement(measures={"image sizes": [(width, height)]}, tallies={"image modes": [mode]}), (width, height)


def measure_image(item: Item) -> Measurement:
    """``{"image sizes": [(width, height)]}``, ``{"image modes": [mode]}``; an unreadable image raises ``DataError``."""
    return image_size(item)[0]
