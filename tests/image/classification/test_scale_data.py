"""Image data at scale (issue 31): columns not dicts, one folder listing per folder, ids kept as text."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from flash.errors import DataError
from flash.image import ImageClassificationData
from flash.image.classification.resolve import FolderIndex
from tests.image.classification.conftest import color_image, write_folder

KW = {"batch_size": 2, "transform_kwargs": {"image_size": 8}}


def _count_scandir(monkeypatch) -> list:
    calls: list = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": calls.append(os.fspath(path)) or real(path))
    return calls


def test_csv_ids_without_extension_use_one_listing_keep_zero_padding_and_ignore_case(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    names = ["000123.png", "000124.PNG", "7.Jpg", "000125.png"]
    for i, name in enumerate(names):
        image = Image.fromarray(color_image("red" if i % 2 else "blue", i))
        image.save(images / name, format="PNG" if "png" in name.lower() else "JPEG")
    (images / "000125.txt").write_text("notes beside the image are not images")
    rows = ["000123,blue", "000124,red", "7,blue", "000125,red"] * 50  # 200 rows, one folder
    (tmp_path / "train.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    calls = _count_scandir(monkeypatch)
    dm = ImageClassificationData.from_csv("image", "label", train_file=tmp_path / "train.csv",
                                          train_images_root=images, **KW)
    assert calls.count(os.fspath(images)) == 1  # one listing for the 200 ids, not a glob per row
    found = [os.path.basename(dm.train_dataset.samples[i]["input"]) for i in range(4)]
    assert found == names  # "000123" kept as text, any extension in any case
    assert dm.train_dataset.samples[3]["metadata"] == {"filepath": str(images / "000125.png"), "row": 3}


def test_unknown_id_is_named_when_listing(tmp_path):
    write_folder(tmp_path / "images", 1)
    (tmp_path / "train.csv").write_text("image,label\nblue/0,blue\nred/00,red\n")
    with pytest.raises(DataError, match=r"Cannot read image '.*red/00': the file does not exist"):
        ImageClassificationData.from_csv("image", "label", train_file=tmp_path / "train.csv",
                                         train_images_root=tmp_path / "images", **KW)


def test_folder_index_prefers_the_exact_name_then_a_sorted_match(tmp_path):
    for name in ("a.png", "a.jpg", "b"):
        (tmp_path / name).write_bytes(b"x")
    index = FolderIndex()
    assert index.resolve(tmp_path, "b") == str(tmp_path / "b")  # the file as named, extension or not
    assert index.resolve(tmp_path, "A") == str(tmp_path / "a.jpg")  # the first image of that stem, sorted
    assert index.resolve(tmp_path, "zzz") == str(tmp_path / "zzz")  # not found: as given, named when loaded


def test_samples_are_columns_built_per_read(folders):
    from flash.core.data import SampleColumns

    dm = ImageClassificationData.from_folders(train_folder=folders / "train", **KW)
    columns = dm.train_dataset.samples
    assert isinstance(columns, SampleColumns) and isinstance(columns.inputs, list)
    assert columns.targets.dtype.name == "int64"  # label ids, 8 bytes a sample
    assert columns[0] == {"input": columns.inputs[0], "target": 0, "metadata": {"filepath": columns.inputs[0]}}
    assert columns.nbytes() / len(columns) < 300


def test_symlink_loop_in_a_class_folder_is_named_once_even_when_skipping(tmp_path):
    root = write_folder(tmp_path / "train", 2)
    os.symlink(root / "blue", root / "blue" / "loop", target_is_directory=True)
    os.symlink(root / "blue", root / "blue" / "again", target_is_directory=True)
    with pytest.warns(UserWarning) as record:
        dm = ImageClassificationData.from_folders(train_folder=root, on_bad_file="skip", **KW)
    links = [str(w.message) for w in record if "link" in str(w.message)]
    assert len(links) == 1 and "2 link(s)" in links[0] and "blue/again'" in links[0]  # once, naming the link
    assert len(dm.train_dataset) == 4  # no duplicates


def test_symlink_loop_in_a_predict_folder_is_named(tmp_path):
    folder = tmp_path / "predict"
    folder.mkdir()
    Image.fromarray(color_image("red", 0)).save(folder / "0.png")
    os.symlink(folder, folder / "self", target_is_directory=True)
    with pytest.warns(UserWarning, match=r"symlink loop.*predict/self'"):
        dm = ImageClassificationData.from_folders(predict_folder=folder, on_bad_file="skip", **KW)
    assert len(dm.predict_dataset) == 1
