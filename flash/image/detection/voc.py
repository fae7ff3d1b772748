"""Pascal VOC annotations (one ``.xml`` per image) -> detection samples.

Each file names its image (``<filename>``, looked up in the image folder) and lists ``<object>``
elements with a ``<name>`` and a ``<bndbox>`` of ``xmin``, ``ymin``, ``xmax``, ``ymax`` pixels.
VOC coordinates are 1-based; like torchvision, they are used as given.

Example:
    >>> samples = VocInput("train", "JPEGImages/", "Annotations/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from flash.errors import DataError
from flash.image.detection.inputs import BadBoxes, DetectionInput, make_sample

_BOX = ("xmin", "ymin", "xmax", "ymax")


def _text(element: ET.Element, tag: str, *, where: str) -> str:
    found = element.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise DataError(f"{where}: missing <{tag}>. Fix the annotation file.")
    return found.text.strip()


def read_voc(xml_path: str | os.PathLike) -> tuple[str, list[list[float]], list[str]]:
    """``(filename, boxes XYXY, names)`` of one VOC file; errors name the file and the object."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DataError(f"The VOC annotation file '{xml_path}' is not valid XML: {err}.") from None
    filename = _text(root, "filename", where=f"'{xml_path}'")
    boxes, names = [], []
    for i, obj in enumerate(root.iter("object")):
        where = f"'{xml_path}' object {i}"
        names.append(_text(obj, "name", where=where))
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataError(f"{where}: missing <bndbox>. Fix the annotation file.")
        try:
            boxes.append([float(_text(bndbox, tag, where=where)) for tag in _BOX])
        except ValueError:
            raise DataError(f"{where}: <bndbox> coordinates must be numbers.") from None
    return filename, boxes, names


def voc_labels(ann_folder: str | os.PathLike) -> list[str]:
    """Every object name used in the folder's annotation files, sorted."""
    return sorted({name for path in _xml_files(ann_folder) for name in read_voc(path)[2]})


def _xml_files(ann_folder: str | os.PathLike) -> list[Path]:
    folder = Path(ann_folder)
    if not folder.is_dir():
        raise DataError(f"The VOC annotation folder '{folder}' does not exist or is not a folder.")
    return sorted(folder.glob("*.xml"))


class VocInput(DetectionInput):
    """Images of ``folder`` with the boxes of the ``.xml`` files in ``ann_folder`` (labels are object names)."""

    def load_data(self, folder: str | os.PathLike, ann_folder: str | os.PathLike, *,
                  bad_boxes: BadBoxes = "fix") -> list[dict]:
        samples = []
        for xml_path in _xml_files(ann_folder):
            filename, boxes, names = read_voc(xml_path)
            filepath = str(Path(folder) / filename)
            samples.append(make_sample(filepath, boxes, names, metadata={"filepath": filepath,
                                                                         "where": f"'{xml_path}'"}))
        return self.checked(samples, bad_boxes)
