"""Inputs for image classification: folders, file lists, data frames, arrays/images, datasets.

Each ``load_data`` lists samples as columns (paths, label ids) and checks only what needs no file read:
the extension says image, and the file is in its folder's listing (one listing per folder, never one
call per file). ``load_sample`` decodes one image to RGB through :mod:`flash.image.io` when the
DataLoader asks for it; a bad file raises there, named, or with ``on_bad_file="skip"`` is dropped from
its batch with a warning naming it (``flash data inspect`` checks every file up front).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from flash.core.data import INPUT, METADATA, TARGET, Input, SampleColumns, SkipSample, StreamInput, skip_or_raise
from flash.core.download import local_file
from flash.core.tables import Table, hf_class_names, is_hf_dataset, table_from_data_frame
from flash.core.validate import check_cells, walk_files
from flash.errors import ConfigurationError, DataError, invalid_choice
from flash.image.classification.resolve import FolderIndex, csv_folder_resolver, default_resolver, listed_errors
from flash.image.io import as_rgb_image, check_finite_images, is_image_file, load_image

OnBadFile = Literal["raise", "skip"]
__all__ = ["ImageArrayInput", "ImageDataFrameInput", "ImageDatasetInput", "ImageFilesInput", "ImageFolderInput",
           "ImageStreamInput", "OnBadFile", "csv_folder_resolver", "default_resolver"]


def _skip(on_bad_file: str) -> bool:
    if on_bad_file not in ("raise", "skip"):
        raise invalid_choice("on_bad_file", on_bad_file, ("raise", "skip"))
    return on_bad_file == "skip"


def _extension_error(path: str) -> str:
    return (f"'{path}' is not an image file (by its extension). Remove it, or pass on_bad_file='skip' "
            "to skip such files.")


class ImageFilesInput(Input):
    """Image file paths with optional targets; bad files raise (or are skipped with a warning naming them)."""

    skip_bad_files = False

    def load_data(self, files: Sequence[str | os.PathLike], targets: Sequence[Any] | None = None, *,
                  on_bad_file: OnBadFile = "raise") -> SampleColumns:
        if isinstance(files, (str, os.PathLike)):
            raise ConfigurationError(f"Pass a list of image paths for the {self.stage} files (or use from_folders). "
                                     f"Received: {self.stage}_files={files!r}")
        paths = [local_file(f) for f in files]  # URLs are downloaded to the cache
        if targets is not None and len(targets) != len(paths):
            raise DataError(f"The {self.stage} data has {len(paths)} files but {len(targets)} targets; "
                            "give one target per file.")
        return self._checked(SampleColumns(paths, list(targets) if targets is not None else None,
                                           metadata={"filepath": INPUT}), on_bad_file, listed=False)

    def _checked(self, samples: SampleColumns, on_bad_file: str, *, listed: bool,
                 index: FolderIndex | None = None) -> SampleColumns:
        """Drop (or raise for) files that are no image by extension, or (``listed=False``) not in their folder."""
        self.skip_bad_files = skip = _skip(on_bad_file)
        paths = samples.inputs
        missing = {} if listed else listed_errors(paths, index=index)  # paths given one by one: list their folders
        bad = sorted({*missing, *(i for i, path in enumerate(paths) if not is_image_file(path))})
        if not bad:
            return samples
        first = missing.get(bad[0]) or _extension_error(paths[bad[0]])
        # the others are counted, not spelled out: a message per bad row would cost time on large data
        skip_or_raise([first] + [""] * (len(bad) - 1), skip=skip, what=f"bad files in the {self.stage} data")
        drop = set(bad)
        return samples.select([i for i in range(len(paths)) if i not in drop])

    def load_sample(self, sample: dict) -> dict:
        min_size = self.input_transform.decode_size() if self.input_transform is not None else None
        try:
            sample[INPUT] = load_image(sample[INPUT], min_size=min_size)
        except DataError as err:
            if self.skip_bad_files:
                raise SkipSample(str(err)) from None
            raise
        return sample


def _listdir(folder: Path, stage: str) -> list[os.DirEntry]:
    if not folder.exists():
        raise DataError(f"The {stage} folder '{folder}' does not exist. Check the path.")
    if not folder.is_dir():
        raise DataError(f"The {stage} folder '{folder}' is a file, not a folder. Pass the folder holding the images.")
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as err:
        raise DataError(f"Cannot read the {stage} folder '{folder}': {err.strerror or err}. "
                        "Check its permissions.") from None


class ImageFolderInput(ImageFilesInput):
    """``folder/<class>/<image>`` (train/val/test); a flat (or nested) folder of images for predict."""

    def load_data(self, folder: str | os.PathLike, *,  # type: ignore[override]
                  on_bad_file: OnBadFile = "raise") -> SampleColumns:
        folder = Path(folder)
        entries = _listdir(folder, self.stage)
        if self.stage == "predict":
            files = walk_files(folder)
            if not files:
                raise DataError(f"The predict folder '{folder}' is empty: put the images to predict in it.")
            return self._checked(SampleColumns(files, None, metadata={"filepath": INPUT}), on_bad_file, listed=True)
        classes = [Path(e.path) for e in entries if e.is_dir()]
        if not classes:
            what = "has files but no class sub-folders" if entries else "is empty"
            raise DataError(f"The {self.stage} folder '{folder}' {what}: expected one sub-folder per class "
                            f"({folder}/<class name>/<image>).")
        paths: list[str] = []
        targets: list[str] = []
        for class_dir in classes:
            files = walk_files(class_dir)
            if not files:
                raise DataError(f"The class folder '{class_dir}' in the {self.stage} data is empty: add images of "
                                f"class '{class_dir.name}', or remove the folder.")
            paths += files
            targets += [class_dir.name] * len(files)  # one shared string per class
        return self._checked(SampleColumns(paths, targets, metadata={"filepath": INPUT}), on_bad_file, listed=True)


class ImageDataFrameInput(ImageFilesInput):
    """Rows of a table (a pandas DataFrame, or a CSV file read by ``read_table``): an image path column and
    one target column (or several multi-hot columns)."""

    def load_data(self, data_frame: Any, input_field: str,  # type: ignore[override]
                  target_fields: str | Sequence[str] | None = None, images_root: str | os.PathLike | None = None,
                  resolver: Callable[[Any, Any], str] | None = None, *,
                  on_bad_file: OnBadFile = "raise") -> SampleColumns:
        table = data_frame if isinstance(data_frame, Table) else table_from_data_frame(
            data_frame, f"The {self.stage} data frame")
        fields = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        absent = [f for f in [input_field, *fields] if f not in table.columns]
        if absent:
            raise DataError(f"{table.name} has no column(s) {absent}; its columns are {table.columns}. "
                            "Check input_field / target_fields.")
        if len(fields) > 1:
            self.label_names = list(fields)  # multi-hot columns: the column names are the labels
        ids = table.column(input_field)
        check_cells(ids, source=table.name, column=input_field, what="image path")
        index = FolderIndex()  # one listing per folder for every id (not a glob per row), shared with the checks
        paths = [(resolver or index.resolve)(images_root, file_id) for file_id in ids]
        targets = self._targets(table, fields) if fields and self.stage != "predict" else None
        samples = SampleColumns(paths, targets, metadata={"filepath": INPUT, "row": range(table.num_rows)})
        return self._checked(samples, on_bad_file, listed=False, index=index)

    @staticmethod
    def _targets(table: Table, fields: list[str]) -> list[Any]:
        if len(fields) == 1:
            return table.column(fields[0])
        return [list(row) for row in zip(*(table.column(f) for f in fields))]


class ImageArrayInput(Input):
    """In-memory images: an (N, H, W[, C]) / (N, C, H, W) array or tensor, or a list of arrays/PIL images."""

    def load_data(self, data: Any, targets: Sequence[Any] | None = None) -> SampleColumns:
        if hasattr(data, "ndim") and data.ndim not in (3, 4):
            raise DataError(f"The {self.stage} images must be a batch of shape (N, H, W), (N, H, W, C) or "
                            f"(N, C, H, W). Received: shape={tuple(data.shape)}")
        images = list(data)
        check_finite_images(images, stage=self.stage)
        if targets is not None and len(targets) != len(images):
            raise DataError(f"The {self.stage} data has {len(images)} images but {len(targets)} targets; "
                            "give one target per image.")
        return SampleColumns(images, list(targets) if targets is not None else None,
                             metadata={"row": range(len(images))})

    def load_sample(self, sample: dict) -> dict:
        sample[INPUT] = as_rgb_image(sample[INPUT])
        return sample


class ImageDatasetInput(Input):
    """A Hugging Face ``datasets.Dataset`` (image / label columns) or a torch Dataset of ``(image, target)``.

    ``lazy_targets=True`` (the classes are declared: ``labels=``, ``num_classes=`` or the dataset's ``classes``):
    a torch Dataset without ``.targets`` is not read whole to list its targets; each is read, and checked
    against the declared classes, when its sample loads.
    """

    lazy_targets = False

    def load_data(self, dataset: Any, *, input_field: str = "image", target_field: str = "label",
                  lazy_targets: bool = False) -> SampleColumns:
        self.dataset = dataset
        self.input_field: str | None = input_field
        targets: list[Any] | None
        if is_hf_dataset(dataset):
            targets = self._hf_targets(dataset, input_field, target_field)
        else:
            self.input_field = None
            classes = getattr(dataset, "classes", None)
            self.label_names = [str(c) for c in classes] if classes else None
            self.lazy_targets = (lazy_targets and self.stage != "predict"
                                 and getattr(dataset, "targets", None) is None)
            targets = None if self.lazy_targets else self._torch_targets(dataset)
        return SampleColumns(range(len(dataset)), None if self.stage == "predict" else targets,
                             metadata={"row": INPUT})

    @property
    def has_targets(self) -> bool:
        return self.lazy_targets or super().has_targets

    def format_targets(self, formatter: Any) -> None:
        if self.lazy_targets:
            self.target_formatter = formatter  # applied to each target as its sample loads
            return
        super().format_targets(formatter)

    def _hf_targets(self, dataset: Any, input_field: str, target_field: str) -> list[Any]:
        absent = [f for f in (input_field, target_field) if f not in dataset.column_names]
        if input_field in absent or (absent and self.stage != "predict"):
            raise DataError(f"The {self.stage} dataset has no column(s) {absent}; its columns are "
                            f"{dataset.column_names}. Pass input_field=... / target_field=....")
        if target_field in absent:
            return [None] * len(dataset)
        self.label_names = hf_class_names(dataset, target_field)
        return list(dataset[target_field])

    def _torch_targets(self, dataset: Any) -> list[Any]:
        targets = getattr(dataset, "targets", None)
        if targets is not None:
            return list(targets)
        if self.stage == "predict":
            return [None] * len(dataset)
        return [self._item(i)[1] for i in range(len(dataset))]

    def _item(self, index: int) -> tuple[Any, Any]:
        item = self.dataset[index]
        if not (isinstance(item, (tuple, list)) and len(item) >= 1):
            raise DataError(f"The {self.stage} dataset must return (image, target) tuples; item {index} is a "
                            f"{type(item).__name__}.")
        return item[0], (item[1] if len(item) > 1 else None)

    def load_sample(self, sample: dict) -> dict:
        index = sample[INPUT]
        if self.input_field:
            image = self.dataset[index][self.input_field]
        else:
            image, target = self._item(index)
            if self.lazy_targets and self.target_formatter is not None:
                sample[TARGET] = self.target_formatter(target, where=f"the {self.stage} dataset (item {index})")
        if isinstance(image, dict) and ("bytes" in image or "path" in image):  # an undecoded datasets.Image
            image = _decode(image)
        sample[INPUT] = as_rgb_image(image)
        return sample


class ImageStreamInput(StreamInput):
    """A stream of images: a Hugging Face ``IterableDataset`` (image / label columns), or a torch
    ``IterableDataset`` or generator of ``(image, target)`` pairs (see :mod:`flash.core.data.streams`)."""

    def __init__(self, stage: str, dataset: Any, *, input_field: str = "image", target_field: str = "label",
                 shuffle_buffer: int = 1000, seed: int = 0) -> None:
        super().__init__(stage, dataset, shuffle_buffer=shuffle_buffer, seed=seed)
        self.input_field, self.target_field = input_field, target_field
        self.label_names = hf_class_names(dataset, target_field)

    def to_sample(self, item: Any, index: int) -> dict:
        if isinstance(item, dict):
            if self.input_field not in item:
                raise DataError(f"Item {index} of the {self.stage} stream has no {self.input_field!r} field; its "
                                f"fields are {sorted(item)}. Pass input_field=... / target_field=....")
            image, target = item[self.input_field], item.get(self.target_field)
            extra = {k: v for k, v in item.items() if k not in (self.input_field, self.target_field)
                     and isinstance(v, (str, int, float))}  # ids, file names: kept beside the predictions
            target = target if self.stage != "predict" else None
            return {INPUT: image, TARGET: target, METADATA: {"row": index, **extra}}
        if isinstance(item, (tuple, list)) and item:
            image, target = item[0], (item[1] if len(item) > 1 else None)
        else:
            raise DataError(f"The {self.stage} stream must yield (image, target) pairs or dicts of columns; item "
                            f"{index} is a {type(item).__name__}.")
        return {INPUT: image, TARGET: target if self.stage != "predict" else None, METADATA: {"row": index}}

    def load_sample(self, sample: dict) -> dict:
        image = sample[INPUT]
        if isinstance(image, dict) and ("bytes" in image or "path" in image):  # an undecoded datasets.Image
            image = _decode(image)
        min_size = self.input_transform.decode_size() if self.input_transform is not None else None
        sample[INPUT] = as_rgb_image(image, min_size=min_size)
        return sample


def _decode(value: dict) -> Any:
    import io

    from PIL import Image

    if value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    return load_image(value["path"])
