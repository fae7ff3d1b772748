"""``ObjectDetectionData``: detection data from COCO files, VOC folders, file lists, folders or datasets.

Datasets may be streams (a Hugging Face or torch ``IterableDataset``, a generator) or shards (``from_shards``):
see :mod:`flash.image.detection.streams`; their labels are declared up front.

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
from collections.abc import Sequence
from typing import Any, cast

from flash.core.data import STAGES, TARGET, DataModule, Input, StreamInput, is_stream, stage_args
from flash.errors import ConfigurationError, DataError
from flash.image.detection.coco import CocoInput, coco_categories
from flash.image.detection.inputs import BadBoxes, BoxFormat, DatasetInput, FilesInput, FolderInput
from flash.image.detection.streams import BoxLabels, DetectionStreamInput
from flash.image.detection.transforms import ObjectDetectionInputTransform
from flash.image.detection.voc import VocInput
from flash.image.io import as_rgb_image, check_finite_images

BACKGROUND = "background"
Targets = Sequence[Sequence[Any]]  # per image, its boxes' label names
Boxes = Sequence[Sequence[dict]]  # per image, its {"xmin", "ymin", "width", "height"} boxes


def label_map(labels: Sequence[Any] | None, inputs: Sequence[Input | None]) -> list[Any]:
    """``["background", *names]`` from ``labels`` or from the first input with targets (sorted names)."""
    if labels is None:
        source = next((i for i in inputs if i is not None and i.has_targets), None)
        if source is None:
            return [BACKGROUND]
        names = {name for s in source.samples for name in s[TARGET]["labels"]}
        labels = sorted(names, key=lambda n: (isinstance(n, str), n))
    return [BACKGROUND] + [name for name in labels if name != BACKGROUND]


def stream_label_map(labels: Sequence[Any] | None, num_classes: int | None) -> list[Any]:
    """The label map of streamed data, declared up front: ``labels=`` or ``num_classes=`` (counting the background)."""
    if labels:
        names = label_map(labels, [])
        if num_classes is not None and num_classes != len(names):
            raise ConfigurationError(f"num_classes={num_classes} disagrees with the {len(names)} classes of the label "
                                     f"map {names} (it counts the background). Received: num_classes={num_classes!r}")
        return names
    if isinstance(num_classes, int) and not isinstance(num_classes, bool) and num_classes >= 2:
        return [BACKGROUND, *range(num_classes - 1)]
    raise ConfigurationError(
        "Streamed detection data has no length to read its classes from up front: declare them, with labels=[...] "
        "(the class names; integer labels index them from 0) or num_classes=N (counting the background; the labels "
        f"are then 0 .. N - 2). Received: labels={labels!r}, num_classes={num_classes!r}")


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
    from_datasets_stages = ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")

    def __init__(self, train_input: Input | StreamInput | None = None, val_input: Input | StreamInput | None = None,
                 test_input: Input | StreamInput | None = None, predict_input: Input | StreamInput | None = None, *,
                 labels: Sequence[Any] | None = None, num_classes: int | None = None, **kwargs: Any) -> None:
        inputs = (train_input, val_input, test_input, predict_input)
        if any(isinstance(dataset, StreamInput) for dataset in inputs):  # labels declared; every stage formatted by
            self._labels = stream_label_map(labels, num_classes)  # BoxLabels (streams: as their samples come)
            super().__init__(*inputs, target_formatter=BoxLabels(self._labels), **kwargs)
            return
        read = cast("tuple[Input | None, ...]", inputs)  # map-style only, here
        self._labels = label_map(labels, read)
        for dataset in read:
            if dataset is not None and dataset.has_targets:
                index_targets(dataset, self._labels)
        super().__init__(*inputs, num_classes=num_classes, **kwargs)

    @property
    def labels(self) -> list[Any]:
        return list(self._labels)

    @property
    def num_classes(self) -> int:
        return len(self._labels)

    @classmethod
    def from_coco(cls, train_folder: str | None = None, train_ann_file: str | None = None, *,
                  val_folder: str | None = None, val_ann_file: str | None = None, test_folder: str | None = None,
                  test_ann_file: str | None = None, predict_folder: str | None = None,
                  labels: Sequence[str] | None = None, bad_boxes: BadBoxes = "fix",
                  **kwargs: Any) -> ObjectDetectionData:
        """Images in ``*_folder`` with COCO json annotations in ``*_ann_file`` (labels: categories by id)."""
        anns = {"train": train_ann_file, "val": val_ann_file, "test": test_ann_file}
        stages = _with_annotations({"train": train_folder, "val": val_folder, "test": test_folder}, anns, "ann_file")
        first_ann = next((ann for ann in anns.values() if ann is not None), None)
        if labels is None and first_ann is not None:
            labels = coco_categories(first_ann)
        return cls.from_stages(CocoInput, {**stages, "predict": _folder(predict_folder)},
                               input_kwargs={"bad_boxes": bad_boxes}, labels=labels, **kwargs)

    @classmethod
    def from_voc(cls, labels: Sequence[str] | None = None, *, train_folder: str | None = None,
                 train_ann_folder: str | None = None, val_folder: str | None = None, val_ann_folder: str | None = None,
                 test_folder: str | None = None, test_ann_folder: str | None = None, predict_folder: str | None = None,
                 bad_boxes: BadBoxes = "fix", **kwargs: Any) -> ObjectDetectionData:
        """Images in ``*_folder``, Pascal VOC ``.xml`` files in ``*_ann_folder``; labels default to the names used."""
        stages = _with_annotations({"train": train_folder, "val": val_folder, "test": test_folder},
                                   {"train": train_ann_folder, "val": val_ann_folder, "test": test_ann_folder},
                                   "ann_folder")
        return cls.from_stages(VocInput, {**stages, "predict": _folder(predict_folder)},
                               input_kwargs={"bad_boxes": bad_boxes}, labels=labels, **kwargs)

    @classmethod
    def from_files(cls, train_files: Sequence[Any] | None = None, train_targets: Sequence[Sequence[Any]] | None = None,
                   train_bboxes: Sequence[Sequence[dict]] | None = None, *, val_files: Sequence[Any] | None = None,
                   val_targets: Sequence[Sequence[Any]] | None = None,
                   val_bboxes: Sequence[Sequence[dict]] | None = None,
                   test_files: Sequence[Any] | None = None, test_targets: Sequence[Sequence[Any]] | None = None,
                   test_bboxes: Sequence[Sequence[dict]] | None = None, predict_files: Sequence[Any] | None = None,
                   labels: Sequence[Any] | None = None, bad_boxes: BadBoxes = "fix",
                   **kwargs: Any) -> ObjectDetectionData:
        """Images (paths, PIL images, arrays) with per-image labels and ``{"xmin","ymin","width","height"}`` boxes."""
        files = {"train": train_files, "val": val_files, "test": test_files, "predict": predict_files}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        stages = stage_args(files, targets, data_arg="files", bboxes={"train": train_bboxes, "val": val_bboxes,
                                                                      "test": test_bboxes})
        return cls.from_stages(FilesInput, stages, input_kwargs={"bad_boxes": bad_boxes}, labels=labels, **kwargs)

    @classmethod
    def from_images(cls, train_images: Sequence[Any] | None = None, train_targets: Targets | None = None,
                    train_bboxes: Boxes | None = None, *, val_images: Sequence[Any] | None = None,
                    val_targets: Targets | None = None, val_bboxes: Boxes | None = None,
                    test_images: Sequence[Any] | None = None, test_targets: Targets | None = None,
                    test_bboxes: Boxes | None = None, predict_images: Sequence[Any] | None = None,
                    **kwargs: Any) -> ObjectDetectionData:
        """In-memory images (PIL images of any mode, arrays, tensors) with label lists and boxes, as :meth:`from_files`.

        Example:
            >>> from PIL import Image
            >>> dm = ObjectDetectionData.from_images([Image.new("RGB", (32, 24))], [["cat"]],
            ...                                      [[{"xmin": 2, "ymin": 3, "width": 10, "height": 8}]], batch_size=1)
            >>> dm.labels
            ['background', 'cat']
        """
        images = {stage: _rgb_images(value, stage) for stage, value in
                  zip(STAGES, (train_images, val_images, test_images, predict_images))}
        return cls.from_files(images["train"], train_targets, train_bboxes, val_files=images["val"],
                              val_targets=val_targets, val_bboxes=val_bboxes, test_files=images["test"],
                              test_targets=test_targets, test_bboxes=test_bboxes, predict_files=images["predict"],
                              **kwargs)

    @classmethod
    def from_numpy(cls, train_data: Any = None, train_targets: Targets | None = None, train_bboxes: Boxes | None = None,
                   *, val_data: Any = None, val_targets: Targets | None = None, val_bboxes: Boxes | None = None,
                   test_data: Any = None, test_targets: Targets | None = None, test_bboxes: Boxes | None = None,
                   predict_data: Any = None,
                   **kwargs: Any) -> ObjectDetectionData:
        """Image batches ``(N, H, W[, C])`` / ``(N, C, H, W)`` (or lists of arrays), uint8 or float in [0, 1]; see
        :meth:`from_images`. ``from_tensors`` takes tensors the same way."""
        return cls.from_images(train_data, train_targets, train_bboxes, val_images=val_data, val_targets=val_targets,
                               val_bboxes=val_bboxes, test_images=test_data, test_targets=test_targets,
                               test_bboxes=test_bboxes, predict_images=predict_data, **kwargs)

    from_tensors = from_numpy

    @classmethod
    def from_folders(cls, predict_folder: str | None = None, *, labels: Sequence[Any] | None = None,
                     **kwargs: Any) -> ObjectDetectionData:
        """Every image of ``predict_folder`` (sorted), for ``trainer.predict``."""
        return cls.from_stages(FolderInput, stage_args({"predict": predict_folder}, data_arg="folder"), labels=labels,
                               **kwargs)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, labels: Sequence[Any] | None = None, bad_boxes: BadBoxes = "fix",
                      input_field: str = "image", target_field: str = "objects", box_format: BoxFormat = "xyxy",
                      on_bad_file: str = "raise", shuffle_buffer: int = 1000,
                      **kwargs: Any) -> ObjectDetectionData:
        """Datasets of ``(image, {"boxes": [[x1, y1, x2, y2], ...], "labels": [...]})`` pairs, or of dicts of columns:
        the image in ``input_field``, the target in ``target_field`` (a dict of ``boxes``/``bbox`` and
        ``labels``/``category``, or a list of one such dict per box); ``box_format="xywh"`` reads COCO's
        ``[x, y, width, height]``. Map-style datasets are read whole up front.

        Streams (a Hugging Face ``IterableDataset``, e.g. ``load_dataset(..., streaming=True)``, a torch
        ``IterableDataset`` or a generator) are read as they come, training ones shuffled through a buffer of
        ``shuffle_buffer`` samples; declare their classes with ``labels=`` or ``num_classes=`` (counting the
        background), or by a ``ClassLabel`` under the target column, and the epoch length with
        ``Trainer(max_steps=...)`` or ``limit_train_batches``. Their images decode in the DataLoader workers: an
        unreadable one raises naming the item, or with ``on_bad_file="skip"`` is dropped. See
        :mod:`flash.image.detection.streams`.

        :meth:`from_shards` streams webdataset-style ``.tar`` shards: a sample is the members sharing a key,
        ``000017.jpg`` with ``000017.json`` holding ``{"boxes": [[x1, y1, x2, y2], ...], "labels": ["cat", ...]}``;
        the columns are the extensions, so pass ``input_field="jpg", target_field="json"`` (and ``.parquet`` shards
        with an image column of ``{"bytes": ...}`` and a struct column of boxes and labels read the same way).

        Example:
            >>> ObjectDetectionData.from_shards(  # doctest: +SKIP
            ...     train_files="shards/train-*.tar", input_field="jpg", target_field="json", labels=["cat", "dog"],
            ...     transform_kwargs=dict(image_size=512), batch_size=8)
        """
        if box_format not in ("xyxy", "xywh"):
            raise ConfigurationError(f"box_format must be 'xyxy' or 'xywh'. Received: box_format={box_format!r}")
        datasets = dict(zip(STAGES, (train_dataset, val_dataset, test_dataset, predict_dataset)))
        fields: dict[str, Any] = {"input_field": input_field, "target_field": target_field,
                                  "box_format": box_format, "bad_boxes": bad_boxes}
        stream: dict[str, Any] = {"on_bad_file": on_bad_file, "shuffle_buffer": shuffle_buffer,
                                  "seed": kwargs.get("seed", 42)}
        if on_bad_file != "raise" and not any(is_stream(d) for d in datasets.values()):
            raise ConfigurationError("on_bad_file applies to streamed data, whose images decode as they come; "
                                     "map-style datasets are read up front. Received: "
                                     f"on_bad_file={on_bad_file!r}")
        stages = {stage: None if d is None else DetectionStreamInput(stage, d, **fields, **stream) if is_stream(d)
                  else DatasetInput(stage, d, **fields) for stage, d in datasets.items()}
        return cls.from_stages(DatasetInput, stages, labels=labels, **kwargs)


def _with_annotations(folders: dict[str, Any], anns: dict[str, Any], what: str) -> dict[str, dict | None]:
    """Per-stage ``{"folder": ..., what: ...}``; a stage needs both or neither."""
    stages: dict[str, dict | None] = {}
    for stage, folder in folders.items():
        ann = anns[stage]
        if (folder is None) != (ann is None):
            raise ConfigurationError(f"Pass both {stage}_folder and {stage}_{what}. "
                                     f"Received: {stage}_folder={folder!r}, {stage}_{what}={ann!r}")
        stages[stage] = None if folder is None else {"folder": folder, what: ann}
    return stages


def _folder(folder: str | os.PathLike | None) -> Input | None:
    """The predict images of ``from_coco`` / ``from_voc``: read by FolderInput, not by the annotation Input."""
    return FolderInput("predict", folder) if folder is not None else None


def _rgb_images(images: Any, stage: str) -> list | None:
    """A batch array or a list of images -> RGB PIL images; NaN/inf name the index, a bad shape is named."""
    if images is None:
        return None
    if hasattr(images, "ndim") and images.ndim not in (3, 4):
        raise DataError(f"The {stage} images must be a batch of shape (N, H, W), (N, H, W, C) or (N, C, H, W). "
                        f"Received: shape={tuple(images.shape)}")
    images = list(images)
    check_finite_images(images, stage=stage)
    return [as_rgb_image(image) for image in images]
