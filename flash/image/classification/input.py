"""Inputs for image classification: folders, file lists, data frames, arrays/images, datasets.

Each ``load_data`` lists lightweight samples (a path, a row index) and checks what is cheap to
check up front (the path exists, the header is an image); ``load_sample`` decodes one image
to RGB through :mod:`flash.image.io` when the DataLoader asks for it.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from flash.core.data import INPUT, METADATA, TARGET, Input, skip_or_raise
from flash.core.download import local_file
from flash.core.tables import Table, hf_class_names, is_hf_dataset, table_from_data_frame
from flash.core.validate import check_cells, walk_files
from flash.errors import ConfigurationError, DataError, invalid_choice
from flash.image.io import as_rgb_image, check_finite_images, check_image, is_image_file, load_image

OnBadFile = Literal["raise", "skip"]


def _skip(on_bad_file: str) -> bool:
    if on_bad_file not in ("raise", "skip"):
        raise invalid_choice("on_bad_file", on_bad_file, ("raise", "skip"))
    return on_bad_file == "skip"


def _file_error(path: str, *, decode: bool = False) -> str | None:
    if not is_image_file(path):
        return (f"'{path}' is not an image file (by its extension). Remove it, or pass on_bad_file='skip' "
                "to skip such files.")
    return check_image(path, verify=False, decode=decode)  # decode: only a full read finds truncated files


def _sample(path: str, target: Any) -> dict:
    return {INPUT: path, TARGET: target, METADATA: {"filepath": path}}


class ImageFilesInput(Input):
    """Image file paths with optional targets; unreadable files raise (or are skipped with a warning)."""

    def load_data(self, files: Sequence[str | os.PathLike], targets: Sequence[Any] | None = None, *,
                  on_bad_file: OnBadFile = "raise") -> list[dict]:
        if isinstance(files, (str, os.PathLike)):
            raise ConfigurationError(f"Pass a list of image paths for the {self.stage} files (or use from_folders). "
                                     f"Received: {self.stage}_files={files!r}")
        paths = [local_file(f) for f in files]  # URLs are downloaded to the cache
        if targets is not None and len(targets) != len(paths):
            raise DataError(f"The {self.stage} data has {len(paths)} files but {len(targets)} targets; "
                            "give one target per file.")
        return self._checked([_sample(f, targets[i] if targets is not None else None) for i, f in enumerate(paths)],
                             on_bad_file)

    def _checked(self, samples: list[dict], on_bad_file: str) -> list[dict]:
        skip = _skip(on_bad_file)
        errors, good = [], []
        for sample in samples:
            error = _file_error(sample[INPUT], decode=skip)
            (errors.append(error) if error else good.append(sample))
        skip_or_raise(errors, skip=skip, what=f"bad files in the {self.stage} data")
        return good

    def load_sample(self, sample: dict) -> dict:
        min_size = self.input_transform.decode_size() if self.input_transform is not None else None
        sample[INPUT] = load_image(sample[INPUT], min_size=min_size)
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


def _walk_files(folder: Path) -> list[str]:
    """Every non-hidden file under ``folder``, in a stable order."""
    return walk_files(folder)


class ImageFolderInput(ImageFilesInput):
    """``folder/<class>/<image>`` (train/val/test); a flat (or nested) folder of images for predict."""

    def load_data(self, folder: str | os.PathLike, *,  # type: ignore[override]
                  on_bad_file: OnBadFile = "raise") -> list[dict]:
        folder = Path(folder)
        entries = _listdir(folder, self.stage)
        if self.stage == "predict":
            files = _walk_files(folder)
            if not files:
                raise DataError(f"The predict folder '{folder}' is empty: put the images to predict in it.")
            return self._checked([_sample(f, None) for f in files], on_bad_file)
        classes = [Path(e.path) for e in entries if e.is_dir()]
        if not classes:
            what = "has files but no class sub-folders" if entries else "is empty"
            raise DataError(f"The {self.stage} folder '{folder}' {what}: expected one sub-folder per class "
                            f"({folder}/<class name>/<image>).")
        samples = []
        for class_dir in classes:
            files = _walk_files(class_dir)
            if not files:
                raise DataError(f"The class folder '{class_dir}' in the {self.stage} data is empty: add images of "
                                f"class '{class_dir.name}', or remove the folder.")
            samples += [_sample(f, class_dir.name) for f in files]
        return self._checked(samples, on_bad_file)


def default_resolver(root: str | os.PathLike | None, file_id: Any) -> str:
    """``root/file_id``; an id without extension (``"17"``) finds ``root/17.<image extension>``."""
    path = os.path.join(os.fspath(root), str(file_id)) if root else str(file_id)
    if os.path.isfile(path):
        return path
    matches = [m for m in sorted(glob.glob(glob.escape(path) + ".*")) if is_image_file(m)]
    return matches[0] if matches else path


def csv_folder_resolver(csv_file: str | os.PathLike) -> Callable[[Any, Any], str]:
    """Lightning Flash's lookup for a CSV without an images root: as given (working directory), else next to the CSV."""
    folder = os.path.dirname(os.path.abspath(csv_file))

    def resolve(root: Any, file_id: Any) -> str:
        path = default_resolver(None, file_id)
        return path if os.path.isfile(path) else default_resolver(folder, file_id)

    return resolve


class ImageDataFrameInput(ImageFilesInput):
    """Rows of a table (a pandas DataFrame, or a CSV file read by ``read_table``): an image path column and
    one target column (or several multi-hot columns)."""

    def load_data(self, data_frame: Any, input_field: str,  # type: ignore[override]
                  target_fields: str | Sequence[str] | None = None, images_root: str | os.PathLike | None = None,
                  resolver: Callable[[Any, Any], str] | None = None, *, on_bad_file: OnBadFile = "raise") -> list[dict]:
        table = data_frame if isinstance(data_frame, Table) else table_from_data_frame(
            data_frame, f"The {self.stage} data frame")
        fields = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        absent = [f for f in [input_field, *fields] if f not in table.columns]
        if absent:
            raise DataError(f"{table.name} has no column(s) {absent}; its columns are {table.columns}. "
                            "Check input_field / target_fields.")
        if len(fields) > 1:
            self.label_names = list(fields)  # multi-hot columns: the column names are the labels
        resolver = resolver or default_resolver
        with_targets = bool(fields) and self.stage != "predict"
        check_cells(table.column(input_field), source=table.name, column=input_field, what="image path")
        samples = []
        for row, (file_id, target) in enumerate(zip(table.column(input_field), self._targets(table, fields))):
            sample = _sample(resolver(images_root, file_id), target if with_targets else None)
            sample[METADATA]["row"] = row
            samples.append(sample)
        return self._checked(samples, on_bad_file)

    @staticmethod
    def _targets(table: Table, fields: list[str]) -> list[Any]:
        if not fields:
            return [None] * table.num_rows
        if len(fields) == 1:
            return table.column(fields[0])
        return [list(row) for row in zip(*(table.column(f) for f in fields))]


class ImageArrayInput(Input):
    """In-memory images: an (N, H, W[, C]) / (N, C, H, W) array or tensor, or a list of arrays/PIL images."""

    def load_data(self, data: Any, targets: Sequence[Any] | None = None) -> list[dict]:
        if hasattr(data, "ndim") and data.ndim not in (3, 4):
            raise DataError(f"The {self.stage} images must be a batch of shape (N, H, W), (N, H, W, C) or "
                            f"(N, C, H, W). Received: shape={tuple(data.shape)}")
        images = list(data)
        check_finite_images(images, stage=self.stage)
        if targets is not None and len(targets) != len(images):
            raise DataError(f"The {self.stage} data has {len(images)} images but {len(targets)} targets; "
                            "give one target per image.")
        targets = list(targets) if targets is not None else [None] * len(images)
        return [{INPUT: image, TARGET: target, METADATA: {"row": i}}
                for i, (image, target) in enumerate(zip(images, targets))]

    def load_sample(self, sample: dict) -> dict:
        sample[INPUT] = as_rgb_image(sample[INPUT])
        return sample


class ImageDatasetInput(Input):
    """A Hugging Face ``datasets.Dataset`` (image / label columns) or a torch Dataset of ``(image, target)``."""

    def load_data(self, dataset: Any, *, input_field: str = "image", target_field: str = "label") -> list[dict]:
        self.dataset = dataset
        self.input_field: str | None = input_field
        if is_hf_dataset(dataset):
            targets = self._hf_targets(dataset, input_field, target_field)
        else:
            self.input_field = None
            targets = self._torch_targets(dataset)
        if self.stage == "predict":
            targets = [None] * len(dataset)
        return [{INPUT: i, TARGET: t, METADATA: {"row": i}} for i, t in enumerate(targets)]

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
        classes = getattr(dataset, "classes", None)
        self.label_names = [str(c) for c in classes] if classes else None
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
        image = self.dataset[index][self.input_field] if self.input_field else self._item(index)[0]
        if isinstance(image, dict) and ("bytes" in image or "path" in image):  # an undecoded datasets.Image
            image = _decode(image)
        sample[INPUT] = as_rgb_image(image)
        return sample


def _decode(value: dict) -> Any:
    import io

    from PIL import Image

    if value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    return load_image(value["path"])
