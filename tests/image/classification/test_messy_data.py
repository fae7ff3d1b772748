"""Messy image data that used to pass silently or with a misleading message (issue 19)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from flash.errors import DataError
from flash.image import ImageClassificationData
from flash.image.io import check_image, load_image
from tests.image.classification.conftest import write_folder


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def exif_jpeg(path: Path, *, orientation: int = 6, size=(20, 10)) -> Path:
    """A JPEG stored (width, height) = ``size``, left half red, right half blue, with an EXIF orientation tag."""
    from PIL import Image

    width, height = size
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (255, 0, 0)
    array[:, width // 2:] = (0, 0, 255)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def test_nan_in_array_images_names_the_index():
    data = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)
    data[2, 3, 3, 0] = np.nan
    with pytest.raises(DataError, match=r"index 2 of the train data holds 1 NaN"):
        ImageClassificationData.from_numpy(train_data=data, train_targets=[0, 1, 0, 1], batch_size=2)


def test_skip_skips_truncated_images_when_met_and_names_them(tmp_path):
    root = write_folder(tmp_path / "train", 3)
    _truncate(root / "blue" / "1.png")
    _truncate(root / "red" / "2.png")
    datamodule = ImageClassificationData.from_folders(train_folder=root, on_bad_file="skip", batch_size=3)
    assert len(datamodule.train_dataset) == 6  # nothing decoded up front: the bad files are found when loaded
    with pytest.warns(UserWarning) as record:
        loaded = sum(len(batch["target"]) for batch in datamodule.train_dataloader())
    assert loaded == 4  # every good image loads, the bad ones are dropped from their batches
    skipped = sorted(str(w.message) for w in record if "Skipped a bad file" in str(w.message))
    assert len(skipped) == 2 and "blue/1.png" in skipped[0] and "red/2.png" in skipped[1]
    assert all("truncated" in message for message in skipped)


def test_skip_refills_a_batch_whose_every_file_is_bad(tmp_path):
    root = write_folder(tmp_path / "train", 2)
    _truncate(root / "blue" / "0.png")
    datamodule = ImageClassificationData.from_files(train_files=[str(root / "blue" / "0.png"),
                                                                 str(root / "red" / "0.png")],
                                                    train_targets=["blue", "red"], on_bad_file="skip", batch_size=1)
    collate = datamodule.train_dataloader().collate_fn
    with pytest.warns(UserWarning, match=r"Skipped a bad file in the train data: .*blue/0\.png"):
        batch = collate([datamodule.train_dataset[0]])  # a batch of one bad file
    assert batch["target"].tolist() == [1]  # the next loadable sample stands in: a batch is never empty


def test_symlink_loop_is_walked_once_with_a_warning(tmp_path):
    root = write_folder(tmp_path / "train", 2)
    os.symlink(root / "blue", root / "blue" / "again", target_is_directory=True)
    with pytest.warns(UserWarning, match=r"symlink loop.*again"):
        datamodule = ImageClassificationData.from_folders(train_folder=root, on_bad_file="skip", batch_size=2)
    assert len(datamodule.train_dataset) == 4


def test_link_to_the_data_root_does_not_pull_other_classes_in(tmp_path):
    root = write_folder(tmp_path / "train", 2)
    os.symlink(root, root / "blue" / "up", target_is_directory=True)  # blue/up -> train/: red's images under blue
    with pytest.warns(UserWarning, match=r"blue/up'"):
        datamodule = ImageClassificationData.from_folders(train_folder=root, batch_size=2)
    assert len(datamodule.train_dataset) == 4
    targets = [datamodule.train_dataset[i]["target"] for i in range(4)]
    assert sorted(targets) == [0, 0, 1, 1]  # each image once, under its own class


def test_empty_csv_image_cell_names_file_row_and_column(tmp_path):
    write_folder(tmp_path / "images", 1)
    csv = tmp_path / "train.csv"
    csv.write_text("image,label\nblue/0.png,blue\n,red\n")
    with pytest.raises(DataError, match=r"Missing image path in CSV file '.*train\.csv' row 1 \(column 'image'\)"):
        ImageClassificationData.from_csv("image", "label", train_file=str(csv),
                                         train_images_root=str(tmp_path / "images"))


def test_folder_named_like_an_image_is_called_a_folder(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    with pytest.raises(DataError, match=r"'.*x\.jpg'.*is a folder, not an image file"):
        ImageClassificationData.from_files(train_files=[str(tmp_path / "x.jpg")], train_targets=["a"])
    with pytest.raises(DataError, match="is a folder"):
        load_image(tmp_path / "x.jpg")


def test_decompression_bomb_is_called_one(tmp_path, monkeypatch):
    from PIL import Image

    path = write_folder(tmp_path, 1, classes=("blue",)) / "blue" / "0.png"  # 12 x 12 = 144 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # PIL refuses images over twice the limit
    message = check_image(path)
    assert "decompression-bomb" in message and "144 pixels" in message and "corrupt" not in message
    with pytest.raises(DataError, match="decompression-bomb"):
        load_image(path)


def test_exif_orientation_applied_when_loading(tmp_path):
    image = load_image(exif_jpeg(tmp_path / "phone.jpg"))
    assert image.size == (10, 20)  # stored 20 wide x 10 high, shown upright 10 wide x 20 high
    pixels = np.asarray(image).astype(int)
    assert pixels[2, 5, 0] > 200 and pixels[-3, 5, 2] > 200  # red on top, blue below: turned 90 degrees clockwise


def test_exif_orientation_applied_in_training_batches(tmp_path):
    files = [str(exif_jpeg(tmp_path / f"{i}.jpg")) for i in range(2)]
    datamodule = ImageClassificationData.from_files(train_files=files, train_targets=["a", "b"], batch_size=2,
                                                    transform_kwargs={"image_size": (16, 16)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = next(iter(datamodule.train_dataloader()))  # what show_batch draws too
    image = batch["input"][0]  # (3, H, W); flips may mirror left/right, never top/bottom
    top, bottom = image[:, :6].mean(dim=(1, 2)), image[:, -6:].mean(dim=(1, 2))
    assert top[0] > top[2] and bottom[2] > bottom[0]
