"""The semantic segmentation task, as the ``flash`` command and every all-task package see it (torch-free).

Example:
    >>> from flash.image.segmentation.entry import ENTRY
    >>> ENTRY.name, ENTRY.demo.model["head"]
    ('semantic_segmentation', 'unet')
"""

from __future__ import annotations

from pathlib import Path

from flash.core.entry import Demo, Detected, TaskEntry

IMAGE_FOLDERS = ("images", "image", "imgs", "img", "rgb", "camerargb", "inputs")
MASK_FOLDERS = ("masks", "mask", "labels", "annotations", "targets", "segmentations", "segmentation", "gt",
                "cameraseg", "segmentationclass")
SPLITS = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test",)}


def _has_images(folder: Path) -> bool:
    extensions = ENTRY.file_extensions()
    return any(p.suffix.lower() in extensions for p in folder.iterdir() if p.is_file())


def image_and_mask_folders(path: Path) -> tuple[Path, Path] | None:
    """``(images, masks)``: the sub-folders of ``path`` named like an image folder and a mask folder."""
    if not path.is_dir():
        return None
    children = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
    images = next((children[n] for n in IMAGE_FOLDERS if n in children and _has_images(children[n])), None)
    masks = next((children[n] for n in MASK_FOLDERS if n in children and _has_images(children[n])), None)
    return (images, masks) if images is not None and masks is not None else None


def _flat(images: Path, masks: Path, val_split: float) -> Detected:
    return Detected("from_folders", {"train_folder": str(images), "train_target_folder": str(masks),
                                     "val_split": val_split},
                    f"a segmentation folder: images in '{images.name}/', masks paired by name in '{masks.name}/'")


def detect(path: Path, *, val_split: float) -> Detected | None:
    """A folder with ``images/`` and ``masks/`` (or ``train/`` and ``val/`` holding them) -> ``from_folders``.

    The ``images/`` folder itself is recognised too (its sibling holds the masks), with the same arguments.
    """
    found = image_and_mask_folders(path)
    if found is not None:
        return _flat(*found, val_split)
    if path.is_dir() and path.name.lower() in IMAGE_FOLDERS:
        siblings = image_and_mask_folders(path.parent)
        if siblings is not None and siblings[0] == path:
            return _flat(*siblings, val_split)
    if not path.is_dir():
        return None
    children = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
    kwargs: dict[str, object] = {}
    for stage, names in SPLITS.items():
        split = next((children[n] for n in names if n in children), None)
        pair = image_and_mask_folders(split) if split is not None else None
        if pair is not None:
            kwargs[f"{stage}_folder"], kwargs[f"{stage}_target_folder"] = str(pair[0]), str(pair[1])
    if "train_folder" not in kwargs:
        return None
    if "val_folder" not in kwargs:
        kwargs["val_split"] = val_split
    stages = [stage for stage in SPLITS if f"{stage}_folder" in kwargs]
    return Detected("from_folders", kwargs, f"a segmentation folder with {'/'.join(stages)} splits of images "
                                            "and masks paired by name")


ENTRY = TaskEntry(
    name="semantic_segmentation",
    model="flash.image.segmentation.model:SemanticSegmentation",
    data="flash.image.segmentation.data:SemanticSegmentationData",
    demo=Demo(datamodule="flash.image.segmentation.demo:demo_datamodule",
              model={"backbone": "resnet18", "head": "unet", "pretrained": False, "image_size": 64},
              trainer={"max_epochs": 4},  # validation mIoU 0.92 from random weights (demo.py)
              inputs="flash.image.segmentation.demo:write_inputs"),
    extra="image",
    summary="classify every pixel (image folders with masks, arrays)",
    expects="a folder with images/ and masks/ sub-folders (masks paired with images by file name), or train/ and "
            "val/ folders holding them",
    extensions="flash.image.io:IMAGE_EXTENSIONS",
    detect=detect,
    adapters={"serve": "flash.image.segmentation.serving:SERVE", "write": "flash.image.segmentation.serving:write",
              "export": "flash.image.segmentation.exporting:export_spec",
              "onnx": "flash.image.segmentation.exporting:SegmentationRunner",
              "report": "flash.image.segmentation.reporting:SegmentationReport",
              "inspect": "flash.image.segmentation.inspection:INSPECT"},
)
