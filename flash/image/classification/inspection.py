"""The image classifier's ``inspect`` adapter: class folders or a table of image paths, each image measured.

Example:
    >>> from flash.image.classification.entry import ENTRY
    >>> ENTRY.adapter("inspect").labels
    'classes'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flash.core.reporting.inspection import InspectAdapter, Item, read_class_folders, read_table_items
from flash.image.inspection import measure_image_bytes


def read(split: str, constructor: str, kwargs: Mapping[str, Any]) -> tuple[Iterable[Item], list[str]]:
    """``from_folders``: one item per image in each class folder (walked lazily); ``from_csv`` and the other tables:
    one per row."""
    from flash.image.io import is_image_file

    if constructor == "from_folders":
        return read_class_folders(split, Path(kwargs["train_folder"]), accept=is_image_file), []
    return read_table_items(split, kwargs, root_key="train_images_root")


INSPECT = InspectAdapter(read=read, measure_bytes=measure_image_bytes)
