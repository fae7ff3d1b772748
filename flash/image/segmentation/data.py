"""``SemanticSegmentationData``: images with per-pixel class masks, from folders, files, arrays or datasets.

Masks pair with their images by file name (stem). Which kind the masks are (class-index PNGs, the class in
the red channel, or colours through ``labels_map``) is read from the first mask's header and said in
``datamodule.mask_kind`` (and logged); see :mod:`flash.image.segmentation.masks`.

``from_datasets`` also streams (a Hugging Face or torch ``IterableDataset``, a generator: see
:mod:`flash.image.segmentation.streams`), so ``from_shards`` reads webdataset-style ``.tar`` shards (``<key>.jpg``
+ ``<key>.png``) and ``.parquet`` shards, local or on an fsspec URL; streamed classes are declared up front.

Example:
    >>> datamodule = SemanticSegmentationData.from_folders(  # doctest: +SKIP
    ...     train_folder="data/CameraRGB", train_target_folder="data/CameraSeg", val_split=0.1,
    ...     transform_kwargs=dict(image_size=(256, 256)), num_classes=21, batch_size=4)
    >>> datamodule.mask_kind  # doctest: +SKIP
    'RGB masks with the class index in the red channel (as Lightning Flash's CARLA data)'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flash.core.data import STAGES, TARGET, DataModule, Input, StreamInput, is_stream, stage_args
from flash.errors import ConfigurationError, DataError
from flash.image.segmentation.input import DatasetInput, FilesInput, FoldersInput, PairLoader, SegmentationInput
from flash.image.segmentation.masks import LabelsMap, check_labels_map
from flash.image.segmentation.streams import SegmentationStreamInput
from flash.image.segmentation.transforms import SemanticSegmentationInputTransform

log = logging.getLogger(__name__)
Folder = str | os.PathLike | None


def _scan_num_classes(inputs: Sequence[Input | StreamInput | None], ignore_index: int | None) -> int | None:
    """The largest class value in the first labelled input's masks, plus one (reads each mask once); None when no
    input has masks (prediction data)."""
    source = next((i for i in inputs if isinstance(i, SegmentationInput) and len(i)
                   and (i.has_targets or isinstance(i, DatasetInput))), None)
    if source is None:
        return None
    top = -1
    for index in range(len(source)):
        target = source.load_sample(dict(source.samples[index])).get(TARGET)
        if target is not None:
            values = np.unique(target)
            values = values[values != ignore_index] if ignore_index is not None else values
            top = max(top, int(values.max(initial=0)))
    return top + 1 if top >= 0 else None


class SemanticSegmentationData(DataModule):
    """Semantic segmentation data: images and masks of class indices, per pixel.

    Every ``from_*`` takes ``num_classes`` (default: ``len(labels)``, else from ``labels_map``, else read from
    the training masks), ``labels_map`` (``{class: (r, g, b)}``: colours of colour masks, and of drawings),
    ``labels`` (class names), ``ignore_index`` (the "not labelled" mask value, 255), ``batch_size``,
    ``num_workers``, ``val_split``, ``transform`` and ``transform_kwargs`` (e.g. ``dict(image_size=(256, 256))``).
    Streamed data (:meth:`from_datasets`, :meth:`from_shards`) cannot be scanned: ``num_classes`` (or ``labels`` or
    ``labels_map``) is then required for data with masks, and ``val_split`` refused.
    """

    input_transform_cls = SemanticSegmentationInputTransform
    formats_targets = False  # masks are class indices already
    # from_datasets streams, so from_shards feeds it
    from_datasets_stages = ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")

    def __init__(self, train_input: Input | StreamInput | None = None, val_input: Input | StreamInput | None = None,
                 test_input: Input | StreamInput | None = None, predict_input: Input | StreamInput | None = None, *,
                 num_classes: int | None = None, labels_map: LabelsMap | None = None,
                 labels: Sequence[str] | None = None, ignore_index: int | None = 255, **kwargs: Any) -> None:
        inputs = (train_input, val_input, test_input, predict_input)
        self.labels_map = check_labels_map(labels_map)
        self.ignore_index = ignore_index
        self._labels = list(labels) if labels is not None else None
        if num_classes is None:
            num_classes = self._known_num_classes()
        if num_classes is None and any(isinstance(i, StreamInput) and i.has_targets for i in inputs):
            raise ConfigurationError(
                "Streamed masks have no length to read the number of classes from up front: declare it, with "
                "num_classes=N, labels=[...] (the class names, in the order of their indices) or labels_map="
                "{class index: (r, g, b)}. Received: num_classes=None")
        if num_classes is None:
            num_classes = _scan_num_classes(inputs, ignore_index)
        if self._labels is not None and len(self._labels) != num_classes:
            raise ConfigurationError(f"labels names {len(self._labels)} classes but num_classes={num_classes}. "
                                     f"Received: labels={self._labels}, num_classes={num_classes}")
        self._num_classes = int(num_classes) if num_classes is not None else None
        self.mask_kind: str | None = None
        for dataset in inputs:
            if isinstance(dataset, PairLoader):
                dataset.configure(labels_map=self.labels_map, num_classes=self._num_classes, ignore_index=ignore_index)
            if isinstance(dataset, SegmentationInput):  # a stream's masks are told apart one by one, as they load
                dataset.detect_kind()
                self.mask_kind = self.mask_kind or dataset.kind_text
        if self.mask_kind:
            log.info("Segmentation masks: %s.", self.mask_kind)
        if kwargs.get("transform") is None:
            kwargs["transform_kwargs"] = {"ignore_index": ignore_index, **(kwargs.get("transform_kwargs") or {})}
        super().__init__(*inputs, **kwargs)

    def _known_num_classes(self) -> int | None:
        if self._labels is not None:
            return len(self._labels)
        if self.labels_map:
            return max(k for k in self.labels_map if k != self.ignore_index) + 1
        return None

    @property
    def num_classes(self) -> int | None:
        """The number of classes; None for prediction data (no masks) built without ``num_classes``."""
        return self._num_classes

    @property
    def labels(self) -> list[str] | None:
        return list(self._labels) if self._labels is not None else None

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", masks={self.mask_kind!r})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_folders(cls, train_folder: Folder = None, train_target_folder: Folder = None, val_folder: Folder = None,
                     val_target_folder: Folder = None, test_folder: Folder = None, test_target_folder: Folder = None,
                     predict_folder: Folder = None, *, num_classes: int | None = None,
                     labels_map: LabelsMap | None = None, ignore_index: int | None = 255,
                     **kwargs: Any) -> SemanticSegmentationData:
        """Images in ``*_folder``, their masks (same file names) in ``*_target_folder``; ``predict_folder`` alone."""
        folders = {"train": train_folder, "val": val_folder, "test": test_folder, "predict": predict_folder}
        targets = {"train": train_target_folder, "val": val_target_folder, "test": test_target_folder}
        for stage in ("train", "val", "test"):
            if (folders[stage] is None) != (targets[stage] is None):
                raise ConfigurationError(f"Pass both {stage}_folder (images) and {stage}_target_folder (masks). "
                                         f"Received: {stage}_folder={folders[stage]!r}, "
                                         f"{stage}_target_folder={targets[stage]!r}")
        stages = stage_args(folders, targets, data_arg="folder", target_arg="target_folder")
        return cls._build(FoldersInput, stages, num_classes, labels_map, ignore_index, kwargs)

    @classmethod
    def from_files(cls, train_files: Sequence[Any] | None = None, train_targets: Sequence[Any] | None = None,
                   val_files: Sequence[Any] | None = None, val_targets: Sequence[Any] | None = None,
                   test_files: Sequence[Any] | None = None, test_targets: Sequence[Any] | None = None,
                   predict_files: Sequence[Any] | None = None, *, num_classes: int | None = None,
                   labels_map: LabelsMap | None = None, ignore_index: int | None = 255,
                   **kwargs: Any) -> SemanticSegmentationData:
        """Image files (or in-memory images) with their mask files (or mask arrays), in the same order."""
        files = {"train": train_files, "val": val_files, "test": test_files, "predict": predict_files}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        return cls._build(FilesInput, stage_args(files, targets, data_arg="files"), num_classes, labels_map,
                          ignore_index, kwargs)

    @classmethod
    def from_numpy(cls, train_data: Any = None, train_targets: Any = None, val_data: Any = None,
                   val_targets: Any = None, test_data: Any = None, test_targets: Any = None, predict_data: Any = None,
                   *, num_classes: int | None = None, labels_map: LabelsMap | None = None,
                   ignore_index: int | None = 255, **kwargs: Any) -> SemanticSegmentationData:
        """Image batches ``(N, H, W, 3)`` / ``(N, 3, H, W)`` (uint8, or float in [0, 1]) with ``(N, H, W)`` masks of
        class indices (or ``(N, H, W, 3)`` colour masks with ``labels_map``); lists of arrays work too.
        ``from_tensors`` takes tensors the same way."""
        data = dict(zip(STAGES, (train_data, val_data, test_data, predict_data)))
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        for stage, images in data.items():
            if images is not None and hasattr(images, "ndim") and images.ndim not in (3, 4):
                raise DataError(f"The {stage} images must be a batch (N, H, W, C) or (N, C, H, W). "
                                f"Received: shape={tuple(images.shape)}")
        files = {stage: list(v) if v is not None else None for stage, v in data.items()}
        masks = {stage: list(v) if v is not None else None for stage, v in targets.items()}
        return cls._build(FilesInput, stage_args(files, masks, data_arg="files"), num_classes, labels_map,
                          ignore_index, kwargs)

    from_tensors = from_numpy

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, input_field: str = "input", target_field: str = "target",
                      shuffle_buffer: int = 1000, num_classes: int | None = None,
                      labels_map: LabelsMap | None = None, ignore_index: int | None = 255,
                      **kwargs: Any) -> SemanticSegmentationData:
        """Datasets of ``(image, mask)`` pairs or dicts of columns (``input_field``: the image, ``target_field``:
        the mask; images alone to predict).

        Map-style datasets (``len`` and ``[i]``) are read by index. Streams (a Hugging Face ``IterableDataset``,
        e.g. ``load_dataset(..., streaming=True)``, a torch ``IterableDataset`` or a generator) are read as they
        come, training ones shuffled through a buffer of ``shuffle_buffer`` samples; declare the classes up front
        (``num_classes=``, ``labels=`` or ``labels_map=``: a stream cannot be scanned for them) and the epoch's
        length with ``Trainer(max_steps=...)`` or ``limit_train_batches``. See :mod:`flash.core.data.streams`.
        Images and masks are PIL images (a Hugging Face ``Image`` column), arrays, paths or encoded bytes
        (``{"bytes": ...}``), decoded in the DataLoader workers; a mask's mode or shape says its kind.

        Shards (:meth:`from_shards`) land here too. A webdataset-style ``.tar`` shard holds each sample's image and
        mask side by side, sharing a key: ``000017.jpg`` + ``000017.png`` give the columns "jpg" (the image) and
        "png" (the mask, a class-index PNG, mode L or P; or RGB with ``labels_map``), and "__key__" ("000017",
        kept in each sample's metadata). A ``.parquet`` shard's image columns are ``{"bytes", "path"}`` structs
        (or ``Image`` features).

        Example:
            >>> SemanticSegmentationData.from_shards(  # doctest: +SKIP
            ...     train_files="shards/train-*.tar", val_files="shards/val-*.tar", input_field="jpg",
            ...     target_field="png", num_classes=21, batch_size=8, transform_kwargs=dict(image_size=256))
        """
        datasets = dict(zip(STAGES, (train_dataset, val_dataset, test_dataset, predict_dataset)))
        fields = {"input_field": input_field, "target_field": target_field}
        stages: dict[str, Any] = {
            stage: SegmentationStreamInput(stage, d, **fields, shuffle_buffer=shuffle_buffer,
                                           seed=kwargs.get("seed", 42)) if is_stream(d) else
            None if d is None else {"dataset": d, **fields} for stage, d in datasets.items()}
        return cls._build(DatasetInput, stages, num_classes, labels_map, ignore_index, kwargs)

    @classmethod
    def _build(cls, input_cls: type[SegmentationInput], stages: Mapping[str, Any], num_classes: int | None,
               labels_map: Any, ignore_index: int | None, kwargs: dict) -> SemanticSegmentationData:
        config = {"labels_map": check_labels_map(labels_map), "num_classes": num_classes,
                  "ignore_index": ignore_index}
        return cls.from_stages(input_cls, stages, input_kwargs=config, num_classes=num_classes,
                               labels_map=labels_map, ignore_index=ignore_index, **kwargs)
