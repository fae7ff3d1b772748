"""``ImageClassificationData``: the image classification DataModule and its ``from_*`` constructors.

Every constructor takes ``train_*`` / ``val_*`` / ``test_*`` / ``predict_*`` data plus the
DataModule arguments (``batch_size``, ``num_workers``, ``val_split``, ``transform``,
``transform_kwargs``, ``labels``, ...), and builds one Input per stage through ``DataModule.from_stages``.

Example:
    >>> datamodule = ImageClassificationData.from_folders(  # doctest: +SKIP
    ...     train_folder="data/train", val_folder="data/val", batch_size=4)
    >>> datamodule.labels  # doctest: +SKIP
    ['ants', 'bees']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from flash.core.data import STAGES, DataModule, is_stream, stage_args
from flash.core.tables import Table, read_table
from flash.image.classification.input import (
    ImageArrayInput,
    ImageDataFrameInput,
    ImageDatasetInput,
    ImageFilesInput,
    ImageFolderInput,
    ImageStreamInput,
    OnBadFile,
    csv_folder_resolver,
)
from flash.image.classification.transforms import ImageClassificationInputTransform

Paths = Sequence[str | os.PathLike]


class ImageClassificationData(DataModule):
    """Image classification data: images (files, arrays, datasets) and their class labels."""

    input_transform_cls = ImageClassificationInputTransform
    # from_datasets streams, so from_shards feeds it
    from_datasets_stages = ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")

    # ------------------------------------------------------------------ files on disk
    @classmethod
    def from_folders(cls, train_folder: str | os.PathLike | None = None, val_folder: str | os.PathLike | None = None,
                     test_folder: str | os.PathLike | None = None, predict_folder: str | os.PathLike | None = None, *,
                     on_bad_file: OnBadFile = "raise", **data_module_kwargs: Any) -> ImageClassificationData:
        """Images in ``folder/<class name>/*`` (predict: any images in the folder).

        ``on_bad_file="skip"`` skips non-image/unreadable files with one warning that counts them.

        Example:
            >>> ImageClassificationData.from_folders(train_folder="data/train", batch_size=4)  # doctest: +SKIP
        """
        folders = {"train": train_folder, "val": val_folder, "test": test_folder, "predict": predict_folder}
        return cls.from_stages(ImageFolderInput, stage_args(folders, data_arg="folder"),
                                input_kwargs={"on_bad_file": on_bad_file}, **data_module_kwargs)

    @classmethod
    def from_files(cls, train_files: Paths | None = None, train_targets: Sequence[Any] | None = None,
                   val_files: Paths | None = None, val_targets: Sequence[Any] | None = None,
                   test_files: Paths | None = None, test_targets: Sequence[Any] | None = None,
                   predict_files: Paths | None = None, *, on_bad_file: OnBadFile = "raise",
                   **data_module_kwargs: Any) -> ImageClassificationData:
        """Lists of image paths and their targets (names, indices, or lists of them for multi-label).

        Example:
            >>> ImageClassificationData.from_files(predict_files=["a.jpg", "b.jpg"], batch_size=2)  # doctest: +SKIP
        """
        files = {"train": train_files, "val": val_files, "test": test_files, "predict": predict_files}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        return cls.from_stages(ImageFilesInput, stage_args(files, targets, data_arg="files"),
                                input_kwargs={"on_bad_file": on_bad_file}, **data_module_kwargs)

    @classmethod
    def from_data_frame(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                        train_data_frame: Any = None, train_images_root: str | None = None,
                        train_resolver: Callable | None = None, val_data_frame: Any = None,
                        val_images_root: str | None = None, val_resolver: Callable | None = None,
                        test_data_frame: Any = None, test_images_root: str | None = None,
                        test_resolver: Callable | None = None, predict_data_frame: Any = None,
                        predict_images_root: str | None = None, predict_resolver: Callable | None = None, *,
                        on_bad_file: OnBadFile = "raise", **data_module_kwargs: Any) -> ImageClassificationData:
        """pandas DataFrames with an image column (paths or ids under ``*_images_root``) and target column(s).

        ``target_fields`` is one column of labels, or several 0/1 columns (multi-label; the column
        names become the labels). ``resolver(images_root, id) -> path`` finds each file.

        Example:
            >>> ImageClassificationData.from_data_frame("image", "label", train_data_frame=df)  # doctest: +SKIP
        """
        frames = dict(zip(STAGES, (train_data_frame, val_data_frame, test_data_frame, predict_data_frame)))
        roots = dict(zip(STAGES, (train_images_root, val_images_root, test_images_root, predict_images_root)))
        resolvers = dict(zip(STAGES, (train_resolver, val_resolver, test_resolver, predict_resolver)))
        stages = stage_args(frames, data_arg="data_frame", images_root=roots, resolver=resolvers)
        return cls.from_stages(ImageDataFrameInput, stages, **data_module_kwargs,
                               input_kwargs={"input_field": input_field, "target_fields": target_fields,
                                             "on_bad_file": on_bad_file})

    @classmethod
    def from_csv(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                 train_file: str | None = None, train_images_root: str | None = None,
                 train_resolver: Callable | None = None, val_file: str | None = None,
                 val_images_root: str | None = None, val_resolver: Callable | None = None,
                 test_file: str | None = None, test_images_root: str | None = None,
                 test_resolver: Callable | None = None, predict_file: str | None = None,
                 predict_images_root: str | None = None, predict_resolver: Callable | None = None, *,
                 on_bad_file: OnBadFile = "raise", **data_module_kwargs: Any) -> ImageClassificationData:
        """CSV files with an image column and target column(s); see :meth:`from_data_frame`.

        A ``*_resolver`` given without ``*_images_root`` is called as ``resolver(<the CSV's folder>, id)``; with
        neither, an id is found as given (from the working directory), else next to the CSV.

        Example:
            >>> ImageClassificationData.from_csv("image", "label", train_file="train.csv",  # doctest: +SKIP
            ...                                  train_images_root="images/")
        """
        files = (train_file, val_file, test_file, predict_file)
        train, val, test, predict = (_read_csv(path, input_field) for path in files)
        # Without an images root, as in Lightning Flash: a resolver gets the CSV's folder; ids are looked up as
        # given, then next to the CSV.
        stages = ((train_file, train_images_root, train_resolver), (val_file, val_images_root, val_resolver),
                  (test_file, test_images_root, test_resolver), (predict_file, predict_images_root, predict_resolver))
        train_images_root, val_images_root, test_images_root, predict_images_root = (
            os.path.dirname(os.path.abspath(path)) if root is None and resolver is not None and path else root
            for path, root, resolver in stages)
        train_resolver, val_resolver, test_resolver, predict_resolver = (
            csv_folder_resolver(path) if root is None and resolver is None and path else resolver
            for path, root, resolver in stages)
        return cls.from_data_frame(input_field, target_fields, train, train_images_root, train_resolver, val,
                                   val_images_root, val_resolver, test, test_images_root, test_resolver, predict,
                                   predict_images_root, predict_resolver, on_bad_file=on_bad_file,
                                   **data_module_kwargs)

    # ------------------------------------------------------------------ in memory
    @classmethod
    def from_numpy(cls, train_data: Any = None, train_targets: Any = None, val_data: Any = None,
                   val_targets: Any = None, test_data: Any = None,
                   test_targets: Any = None, predict_data: Any = None,
                   **data_module_kwargs: Any) -> ImageClassificationData:
        """NumPy image batches ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``, uint8 or float in [0, 1].

        Example:
            >>> import numpy as np
            >>> dm = ImageClassificationData.from_numpy(train_data=np.zeros((4, 8, 8), np.uint8),
            ...                                         train_targets=[0, 1, 0, 1], batch_size=2)
            >>> dm.num_classes
            2
        """
        data = {"train": train_data, "val": val_data, "test": test_data, "predict": predict_data}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        return cls.from_stages(ImageArrayInput, stage_args(data, targets, data_arg="data"), **data_module_kwargs)

    @classmethod
    def from_tensors(cls, train_data: Any = None, train_targets: Sequence[Any] | None = None, val_data: Any = None,
                     val_targets: Sequence[Any] | None = None, test_data: Any = None,
                     test_targets: Sequence[Any] | None = None, predict_data: Any = None,
                     **data_module_kwargs: Any) -> ImageClassificationData:
        """Image tensors ``(N, C, H, W)`` (or a list of ``(C, H, W)``), uint8 or float in [0, 1].

        See :meth:`from_numpy`.
        """
        return cls.from_numpy(train_data, train_targets, val_data, val_targets, test_data, test_targets, predict_data,
                              **data_module_kwargs)

    @classmethod
    def from_images(cls, train_images: Any = None, train_targets: Sequence[Any] | None = None, val_images: Any = None,
                    val_targets: Sequence[Any] | None = None, test_images: Any = None,
                    test_targets: Sequence[Any] | None = None, predict_images: Any = None,
                    **data_module_kwargs: Any) -> ImageClassificationData:
        """Lists of PIL images (any mode) and their targets."""
        return cls.from_numpy(train_images, train_targets, val_images, val_targets, test_images, test_targets,
                              predict_images, **data_module_kwargs)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, input_field: str = "image", target_field: str = "label",
                      shuffle_buffer: int = 1000, **data_module_kwargs: Any) -> ImageClassificationData:
        """Hugging Face ``datasets.Dataset`` objects (``input_field`` / ``target_field`` columns; a
        ``ClassLabel`` column gives the label names) or torch Datasets returning ``(image, target)``.

        Streams (a Hugging Face ``IterableDataset``, e.g. ``load_dataset(..., streaming=True)``, a torch
        ``IterableDataset`` or a generator) are read as they come, training ones shuffled through a buffer of
        ``shuffle_buffer`` samples; declare their classes with ``labels=`` or ``num_classes=`` (a
        ``ClassLabel`` column declares them) and the epoch length with ``Trainer(max_steps=...)`` or
        ``limit_train_batches``. See :mod:`flash.core.data.streams`.

        A torch Dataset without ``.targets`` is read whole to find its classes, unless they are declared
        (``labels=``, ``num_classes=`` or its ``classes`` attribute): each target is then read as its sample loads.

        Example:
            >>> ImageClassificationData.from_datasets(train_dataset=hf_dataset["train"], batch_size=8)  # doctest: +SKIP
        """
        datasets = {"train": train_dataset, "val": val_dataset, "test": test_dataset, "predict": predict_dataset}
        fields: dict[str, Any] = {"input_field": input_field, "target_field": target_field}
        if any(is_stream(d) for d in datasets.values()):
            stream = {"shuffle_buffer": shuffle_buffer, "seed": data_module_kwargs.get("seed", 42)}
            stages: dict[str, Any] = {
                stage: None if d is None else ImageStreamInput(stage, d, **fields, **stream) if is_stream(d)
                else ImageDatasetInput(stage, d, **fields) for stage, d in datasets.items()}
            return cls.from_stages(ImageDatasetInput, stages, **data_module_kwargs)
        declared = bool(data_module_kwargs.get("labels") or data_module_kwargs.get("num_classes"))
        stages = {stage: None if d is None else ImageDatasetInput(
            stage, d, **fields, lazy_targets=declared or bool(getattr(d, "classes", None)))
            for stage, d in datasets.items()}
        return cls.from_stages(ImageDatasetInput, stages, **data_module_kwargs)


def _read_csv(path: str | os.PathLike | None, input_field: str) -> Table | None:
    if path is None:
        return None
    table = read_table(path, format="csv", text_columns=[input_field])  # ids as text: "000123" keeps its zeros
    return replace(table, name=f"CSV file {table.name}")
