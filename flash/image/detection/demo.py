"""The built-in demo for ``flash train object_detection``: coloured shapes on noisy backgrounds.

Three classes, each one shape in one colour (``red_square``, ``green_circle``, ``blue_triangle``),
1 to 3 per image, 16 to 44 pixels wide; written as PNGs plus a COCO json, deterministically from
``seed``, so the boxes are known exactly. A detector learns them in minutes on a CPU.

Example:
    >>> from flash.image.detection.demo import DEMO_MODEL, demo_datamodule
    >>> datamodule = demo_datamodule(num_train=8, num_val=4)  # doctest: +SKIP
    >>> datamodule.labels  # doctest: +SKIP
    ['background', 'red_square', 'green_circle', 'blue_triangle']
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from flash.image.detection.entry import ENTRY

SHAPES = (("red_square", (220, 40, 40)), ("green_circle", (40, 200, 60)), ("blue_triangle", (50, 80, 230)))
# the entry holds the demo's typed configuration; these plain dicts are for scripts and notebooks
DEMO_MODEL = dict(ENTRY.demo.model)
DEMO_TRAINER = dict(ENTRY.demo.trainer)


def _draw(image: Any, name: str, colour: tuple, box: tuple[int, int, int, int]) -> None:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    x1, y1, x2, y2 = box
    if name == "red_square":
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=colour)
    elif name == "green_circle":
        draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=colour)
    else:
        draw.polygon(((x1 + x2) / 2, y1, x2 - 1, y2 - 1, x1, y2 - 1), fill=colour)


def shapes_image(rng: np.random.Generator, size: tuple[int, int] = (128, 128)) -> tuple[Any, list, list]:
    """One noisy ``(height, width)`` image with 1-3 non-overlapping shapes: ``(PIL image, XYXY boxes, names)``."""
    from PIL import Image

    height, width = size
    noise = rng.normal(128, 40, (height, width, 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(noise)
    boxes: list[tuple[int, int, int, int]] = []
    names: list[str] = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            side = int(rng.integers(16, 45))
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            box = (x, y, x + side, y + side)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes):
                name, colour = SHAPES[int(rng.integers(0, len(SHAPES)))]
                _draw(image, name, colour, box)
                boxes.append(box)
                names.append(name)
                break
    return image, boxes, names


def write_shapes(folder: str | Path, *, num_images: int, seed: int, size: tuple[int, int] = (128, 128)) -> Path:
    """Write ``num_images`` shape images into ``folder`` and their COCO annotations; returns the json path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    categories = [{"id": i + 1, "name": name} for i, (name, _) in enumerate(SHAPES)]
    ids = {c["name"]: c["id"] for c in categories}
    images: list[dict] = []
    annotations: list[dict] = []
    for i in range(num_images):
        image, boxes, names = shapes_image(rng, size)
        image.save(folder / f"{i:04d}.png")
        images.append({"id": i, "file_name": f"{i:04d}.png", "width": size[1], "height": size[0]})
        for (x1, y1, x2, y2), name in zip(boxes, names):
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": ids[name],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    ann_file = folder / "annotations.json"
    ann_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann_file


def demo_datamodule(root: str | Path | None = None, *, num_train: int = 96, num_val: int = 32,
                    image_size: int = 128, seed: int = 0, **kwargs: Any):
    """The shapes data set as COCO files under ``root`` (a temporary folder by default), as ObjectDetectionData."""
    from flash.image.detection.data import ObjectDetectionData

    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="flash_detection_demo_"))
    train_ann = write_shapes(root / "train", num_images=num_train, seed=seed)
    val_ann = write_shapes(root / "val", num_images=num_val, seed=seed + 1)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("transform_kwargs", {"image_size": image_size})
    return ObjectDetectionData.from_coco(train_folder=str(root / "train"), train_ann_file=str(train_ann),
                                         val_folder=str(root / "val"), val_ann_file=str(val_ann), **kwargs)


def write_inputs(folder: str | Path, *, count: int = 2, seed: int = 1234) -> list[str]:
    """Write ``count`` new shape images into ``folder`` (new inputs for ``flash predict``); their paths."""
    write_shapes(folder, num_images=count, seed=seed)
    return [str(Path(folder) / f"{i:04d}.png") for i in range(count)]
