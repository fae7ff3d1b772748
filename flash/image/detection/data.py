"""``ObjectDetectionData``: detection data from COCO files, VOC folders, file lists, folders or datasets.

The label map is ``["background", *names]``: index 0 is the background, so ``num_classes`` counts
it (as in Lightning Flash). Names come from ``labels=`` when given, else from the COCO categories
(ordered by id), else from the training targets (sorted). Every stage's names must be in it.

Example:
    >>> datamodule = ObjectDetectionData.from_files(  # doctest: +SKIP
    ...     train_files=["image_1.png", "image_2.png"],
    ...     train_targets=[["cat"], ["dog"]],
    ...     train_bboxes=[[{"xmin": 10, "ymin": 20, "width": 5, "height": 10}],
    ...                   [{"xmin": 20, "ymin": 30, "width": 10, "height": 10}]],
    ...     transform_kwargs=dict(image_size=128), batch_size=2)
    >>> datamodule.labels  # doctest: +SKIP
    ['background', 'cat', 'dog']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from flash.core.data import STAGES, TARGET, DataModule, Input
from flash.errors import ConfigurationError, DataError
from flash.image.detection.coco import CocoInput, coco_categories
from flash.image.detection.inputs import BadBoxes, DatasetInput, FilesInput, FolderInput
from flash.image.detection.transforms import ObjectDetectionInputTransform
from flash.image.detection.voc import VocInput

BACKGROUND = "background"


def label_map(labels: Sequence[Any] | None, inputs: Sequence[Input | None]) -> list[Any]:
    """``["background", *names]`` from ``labels`` or from the first input with targets (sorted names)."""
    if labels is None:
        source = next((i for i in inputs if i is not None and i.has_targets), None)
        if source is None:
            return [BACKGROUND]
        names = {name for s in source.samples for name in s[TARGET]["labels"]}
        labels = sorted(names, key=lambda n: (isinstance(n, str), n))
    return [BACKGROUND] + [name for name in labels if name != BACKGROUND]


def index_targets(dataset: Input, labels: list[Any]) -> None:
    """Replace label names by their index in ``labels``; an unknown name names the sample and the known ones."""
    index = {name: i for i, name in enumerate(labels)}
    for sample in dataset.samples:
        target = sample.get(TARGET)
        if target is None:
            continue
        for name in target["labels"]:
            if name not in index:
                where = sample["metadata"].get("where") or sample["metadata"].get("filepath") or "a sample"
                raise DataError(f"{where}: label {name!r} of the {dataset.stage} data is not in the label map "
                                f"{labels[1:]}. Add it to labels=... or fix the annotation.")
        target["labels"] = [index[name] for name in target["labels"]]


class ObjectDetectionData(DataModule):
    """Object detection data: images with boxes and their class names.

    Every ``from_*`` takes ``batch_size``, ``num_workers``, ``val_split``, ``transform``,
    ``transform_kwargs`` (e.g. ``dict(image_size=512)``), ``labels`` and ``bad_boxes``
    (``"fix"``: clip boxes to the image and drop empty ones, with one warning; ``"raise"``).
    """

    input_transform_cls = ObjectDetectionInputTransform
    formats_targets = False  # detection builds its own label map (names <-> indices)

    def __init__(self, train_input: Input | None = None, val_input: Input | None = None,
                 test_input: Input | None = None, predict_input: Input | None = None, *,
                 labels: Sequence[Any] | None = None, **kwargs: Any) -> None:
        inputs = (train_input, val_input, test_input, predict_input)
        self._labels = label_map(labels, inputs)
        for dataset in inputs:
            if dataset is not None and dataset.has_targets:
                index_targets(dataset, self._labels)
        super().__init__(*inputs, **kwargs)

    @property
    def labels(self) -> list[Any]:
        return list(self._labels)

    @property
    def num_classes(self) -> int:
        return len(self._labels)

    @classmethod
    def _build(cls, make: Callable[..., Input], per_stage: dict[str, tuple | None], *,
               predict: Input | None, labels: Sequence[Any] | None, **kwargs: Any) -> ObjectDetectionData:
        """The one constructor behind every ``from_*``: ``make(stage, *args)`` for each stage given."""
        inputs = {stage: make(stage, *args) if args is not None else None for stage, args in per_stage.items()}
        predict = predict if predict is not None else inputs.get("predict")
        return cls(inputs.get("train"), inputs.get("val"), inputs.get("test"), predict, labels=labels, **kwargs)

    @classmethod
    def from_coco(cls, train_folder: str | None = None, train_ann_file: str | None = None, *,
                  val_folder: str | None = None, val_ann_file: str | None = None, test_folder: str | None = None,
                  test_ann_file: str | None = None, predict_folder: str | None = None,
                  labels: Sequence[str] | None = None, bad_boxes: BadBoxes = "fix", **kwargs: Any) -> ObjectDetectionData:
        """Images in ``*_folder`` with COCO json annotations in ``*_ann_file`` (labels: categories by id)."""
        pairs = {"train": (train_folder, train_ann_file), "val": (val_folder, val_ann_file),
                 "test": (test_folder, test_ann_file)}
        per_stage = {stage: _pair(stage, folder, ann, "ann_file") for stage, (folder, ann) in pairs.items()}
        first_ann = next((ann for _, ann in pairs.values() if ann is not None), None)
        if labels is None and first_ann is not None:
            labels = coco_categories(first_ann)
        return cls._build(lambda stage, *a: CocoInput(stage, *a, bad_boxes=bad_boxes), per_stage,
                          predict=_folder("predict", predict_folder), labels=labels, **kwargs)

    @classmethod
    def from_voc(cls, labels: Sequence[str] | None = None, *, train_folder: str | None = None,
                 train_ann_folder: str | None = None, val_folder: str | None = None, val_ann_folder: str | None = None,
                 test_folder: str | None = None, test_ann_folder: str | None = None, predict_folder: str | None = None,
                 bad_boxes: BadBoxes = "fix", **kwargs: Any) -> ObjectDetectionData:
        """Images in ``*_folder`` with Pascal VOC ``.xml`` files in ``*_ann_folder``; ``labels`` default to the names used."""
        pairs = {"train": (train_folder, train_ann_folder), "val": (val_folder, val_ann_folder),
                 "test": (test_folder, test_ann_folder)}
        per_stage = {stage: _pair(stage, folder, ann, "ann_folder") for stage, (folder, ann) in pairs.items()}
        return cls._build(lambda stage, *a: VocInput(stage, *a, bad_boxes=bad_boxes), per_stage,
                          predict=_folder("predict", predict_folder), labels=labels, **kwargs)

    @classmethod
    def from_files(cls, train_files: Sequence[Any] | None = None, train_targets: Sequence[Sequence[Any]] | None = None,
                   train_bboxes: Sequence[Sequence[dict]] | None = None, *, val_files: Sequence[Any] | None = None,
                   val_targets: Sequence[Sequence[Any]] | None = None, val_bboxes: Sequence[Sequence[dict]] | None = None,
                   test_files: Sequence[Any] | None = None, test_targets: Sequence[Sequence[Any]] | None = None,
                   test_bboxes: Sequence[Sequence[dict]] | None = None, predict_files: Sequence[Any] | None = None,
                   labels: Sequence[Any] | None = None, bad_boxes: BadBoxes = "fix", **kwargs: Any) -> ObjectDetectionData:
        """Lists of image files (or PIL images / arrays), per-image label lists and ``{"xmin","ymin","width","height"}`` boxes."""
        per_stage = {"train": (train_files, train_targets, train_bboxes), "val": (val_files, val_targets, val_bboxes),
                     "test": (test_files, test_targets, test_bboxes)}
        per_stage = {stage: args if args[0] is not None else None for stage, args in per_stage.items()}
        predict = FilesInput("predict", predict_files) if predict_files is not None else None
        return cls._build(lambda stage, *a: FilesInput(stage, *a, bad_boxes=bad_boxes), per_stage,
                          predict=predict, labels=labels, **kwargs)

    @classmethod
    def from_folders(cls, predict_folder: str | None = None, *, labels: Sequence[Any] | None = None,
                     **kwargs: Any) -> ObjectDetectionData:
        """Every image of ``predict_folder`` (sorted), for ``trainer.predict``."""
        return cls._build(FolderInput, {}, predict=_folder("predict", predict_folder), labels=labels, **kwargs)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, labels: Sequence[Any] | None = None, bad_boxes: BadBoxes = "fix",
                      **kwargs: Any) -> ObjectDetectionData:
        """Map-style datasets of ``(image, {"boxes": XYXY pixels, "labels": [names]})`` pairs (or sample dicts)."""
        datasets = dict(zip(STAGES, (train_dataset, val_dataset, test_dataset, predict_dataset)))
        per_stage = {stage: (ds,) if ds is not None else None for stage, ds in datasets.items()}
        return cls._build(lambda stage, *a: DatasetInput(stage, *a, bad_boxes=bad_boxes), per_stage,
                          predict=None, labels=labels, **kwargs)


def _pair(stage: str, folder: str | os.PathLike | None, ann: str | os.PathLike | None, what: str) -> tuple | None:
    if folder is None and ann is None:
        return None
    if folder is None or ann is None:
        raise ConfigurationError(f"Pass both {stage}_folder and {stage}_{what}. Received: {stage}_folder={folder!r}, "
                        f"{stage}_{what}={ann!r}")
    return folder, ann


def _folder(stage: str, folder: str | os.PathLike | None) -> Input | None:
    return FolderInput(stage, folder) if folder is not None else None
