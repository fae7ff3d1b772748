"""ImageClassificationData: every from_* constructor, image modes, and every kind of bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from flash.errors import ConfigurationError, DataError
from flash.image import ImageClassificationData
from tests.image.classification.conftest import color_image, write_folder

KW = {"batch_size": 2, "transform_kwargs": {"image_size": 8, "mean": 0.5, "std": 0.5}}


def _raw(dataset, index=0) -> np.ndarray:
    """The decoded RGB image of a sample, before the (random) training transform."""
    return np.asarray(dataset.load_sample(dict(dataset.samples[index]))["input"])


def _batch(dm, stage="train"):
    return next(iter(getattr(dm, f"{stage}_dataloader")()))


def test_from_folders_labels_batches_and_val_split(folders):
    dm = ImageClassificationData.from_folders(train_folder=folders / "train", val_folder=folders / "val",
                                              predict_folder=folders / "predict", **KW)
    assert dm.labels == ["blue", "red"] and dm.num_classes == 2
    assert len(dm.train_dataset) == 16 and len(dm.val_dataset) == 8 and len(dm.predict_dataset) == 3
    batch = _batch(dm)
    assert batch["input"].shape == (2, 3, 8, 8) and batch["input"].dtype == torch.float32
    assert batch["target"].dtype == torch.int64
    assert batch["metadata"][0]["filepath"].endswith(".png")
    assert "target" not in _batch(dm, "predict")
    split = ImageClassificationData.from_folders(train_folder=folders / "train", val_split=0.25, **KW)
    assert len(split.train_dataset) == 12 and len(split.val_dataset) == 4


def test_from_files_and_from_csv_and_from_data_frame(folders, tmp_path):
    import pandas as pd

    files = sorted(str(p) for p in (folders / "train").rglob("*.png"))
    targets = [os.path.basename(os.path.dirname(f)) for f in files]
    dm = ImageClassificationData.from_files(train_files=files, train_targets=targets, predict_files=files[:3], **KW)
    assert dm.labels == ["blue", "red"] and int(dm.train_dataset[len(files) - 1]["target"]) == 1
    frame = pd.DataFrame({"image": [os.path.relpath(f, folders / "train") for f in files], "label": targets})
    frame.to_csv(tmp_path / "train.csv", index=False)
    csv = ImageClassificationData.from_csv("image", "label", train_file=tmp_path / "train.csv",
                                           train_images_root=folders / "train", **KW)
    frames = ImageClassificationData.from_data_frame("image", "label", train_data_frame=frame,
                                                     train_images_root=folders / "train", **KW)
    for data in (csv, frames):
        assert data.labels == ["blue", "red"]
        assert np.array_equal(_raw(data.train_dataset), _raw(dm.train_dataset))
    # ids without extension are resolved; a custom resolver is used as given
    frame["image"] = frame["image"].str.replace(".png", "", regex=False)
    no_ext = ImageClassificationData.from_data_frame("image", "label", train_data_frame=frame,
                                                     train_images_root=folders / "train", **KW)
    assert no_ext.train_dataset.samples[0]["input"].endswith(".png")
    custom = ImageClassificationData.from_data_frame(
        "image", "label", train_data_frame=frame, train_images_root=folders / "train",
        train_resolver=lambda root, i: os.path.join(root, f"{i}.png"), **KW)
    assert len(custom.train_dataset) == 16


def test_from_data_frame_multi_hot_columns_are_multi_label(folders):
    import pandas as pd

    files = sorted(str(p) for p in (folders / "train").rglob("*.png"))
    frame = pd.DataFrame({"file": files, "warm": [int("red" in f) for f in files],
                          "cool": [int("blue" in f) for f in files], "photo": [1] * len(files)})
    dm = ImageClassificationData.from_data_frame("file", ["warm", "cool", "photo"], train_data_frame=frame, **KW)
    assert dm.multi_label and dm.labels == ["warm", "cool", "photo"]
    assert dm.train_dataset[0]["target"].tolist() == [0.0, 1.0, 1.0]


def test_from_numpy_tensors_and_images():
    images = np.stack([color_image(c, i) for i, c in enumerate(["red", "blue"] * 3)])
    targets = ["red", "blue"] * 3
    from_np = ImageClassificationData.from_numpy(
        train_data=images, train_targets=targets, predict_data=images[:2], **KW
    )
    chw = torch.from_numpy(images).permute(0, 3, 1, 2)
    from_t = ImageClassificationData.from_tensors(train_data=chw, train_targets=targets, **KW)
    from_float = ImageClassificationData.from_tensors(train_data=chw.float() / 255, train_targets=targets, **KW)
    from_pil = ImageClassificationData.from_images(
        train_images=[Image.fromarray(a) for a in images], train_targets=targets, **KW
    )
    assert from_np.train_dataset[0]["input"].shape == (3, 8, 8)
    assert np.array_equal(_raw(from_np.train_dataset), images[0])
    for dm in (from_t, from_float, from_pil):
        assert dm.labels == ["blue", "red"]
        assert np.abs(_raw(dm.train_dataset).astype(int) - images[0]).max() <= 1
    grey = ImageClassificationData.from_numpy(train_data=images[..., 0], train_targets=targets, **KW)
    x = grey.train_dataset[0]["input"]
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])  # (N, H, W) -> 3 equal channels


def test_from_datasets_hugging_face_and_torch(tmp_path):
    import datasets

    images = [Image.fromarray(color_image(c, i)) for i, c in enumerate(["red", "blue"] * 3)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["red", "blue"])})
    hf = datasets.Dataset.from_dict({"image": images, "label": [0, 1] * 3}, features=features)
    dm = ImageClassificationData.from_datasets(train_dataset=hf, predict_dataset=hf, **KW)
    assert dm.labels == ["red", "blue"] and int(dm.train_dataset[1]["target"]) == 1
    assert dm.train_dataset[0]["input"].shape == (3, 8, 8)

    class Pairs(torch.utils.data.Dataset):
        classes = ["red", "blue"]

        def __len__(self):
            return 6

        def __getitem__(self, i):
            return np.asarray(images[i]), i % 2

    torch_dm = ImageClassificationData.from_datasets(train_dataset=Pairs(), **KW)
    assert torch_dm.labels == ["red", "blue"]
    assert np.array_equal(_raw(torch_dm.train_dataset), _raw(dm.train_dataset))
    with pytest.raises(DataError, match=r"no column\(s\) \['label'\].*\['image'\]"):
        ImageClassificationData.from_datasets(train_dataset=hf.remove_columns("label"), **KW)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "I", "F", "1"])
def test_every_image_mode_becomes_rgb(tmp_path, mode):
    rgb = Image.fromarray(color_image("red", 0))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    else:
        image = rgb.convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("I;16", "I", "F", "CMYK") else "x.png")
    image.save(path)
    dm = ImageClassificationData.from_files(train_files=[path], train_targets=["a"], **KW)
    x = dm.train_dataset[0]["input"]
    assert x.shape == (3, 8, 8) and torch.isfinite(x).all()
    if mode in ("L", "I;16", "I", "F"):
        grey = np.asarray(rgb.convert("L"), dtype=np.float32).mean() / 255
        assert abs(float(x.mean()) * 0.5 + 0.5 - grey) < 0.03  # same brightness as the 8-bit grey image


# ---------------------------------------------------------------------------------------- bad input
def test_truncated_image_names_the_file(folders):
    bad = folders / "train" / "red" / "0.png"
    bad.write_bytes(bad.read_bytes()[:60])
    dm = ImageClassificationData.from_folders(train_folder=folders / "train", **KW)
    index = next(i for i, s in enumerate(dm.train_dataset.samples) if s["input"] == str(bad))
    with pytest.raises(DataError, match=r"Cannot read image '.*red/0\.png'.*truncated"):
        dm.train_dataset[index]


def test_corrupt_header_is_named_when_loaded_not_when_listing(folders, monkeypatch):
    (folders / "train" / "red" / "9.png").write_bytes(b"not a png at all")
    import PIL.Image

    opened = []
    real_open = PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    dm = ImageClassificationData.from_folders(train_folder=folders / "train", **KW)
    assert opened == []  # building the DataModule reads no file: only the folders are listed
    index = next(i for i, s in enumerate(dm.train_dataset.samples) if s["input"].endswith("9.png"))
    with pytest.raises(DataError, match=r"red/9\.png'.*not an image"):
        dm.train_dataset[index]


def test_non_image_file_raises_or_is_skipped_with_a_counting_warning(folders):
    (folders / "train" / "red" / "notes.txt").write_text("hello")
    (folders / "train" / "blue" / "labels.csv").write_text("a,b")
    (folders / "train" / "blue" / ".DS_Store").write_text("hidden files are ignored")
    with pytest.raises(DataError, match=r"labels\.csv' is not an image file.*on_bad_file='skip'.*1 more"):
        ImageClassificationData.from_folders(train_folder=folders / "train", **KW)
    with pytest.warns(UserWarning, match=r"Skipped 2 bad files in the train data"):
        dm = ImageClassificationData.from_folders(train_folder=folders / "train", on_bad_file="skip", **KW)
    assert len(dm.train_dataset) == 16
    with pytest.raises(ConfigurationError, match="on_bad_file"):
        ImageClassificationData.from_folders(train_folder=folders / "train", on_bad_file="ignore", **KW)


def test_empty_class_folder_and_empty_folder(tmp_path):
    write_folder(tmp_path / "train", 2)
    (tmp_path / "train" / "green").mkdir()
    with pytest.raises(DataError, match=r"class folder '.*green' in the train data is empty"):
        ImageClassificationData.from_folders(train_folder=tmp_path / "train", **KW)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"'.*empty' is empty: expected one sub-folder per class"):
        ImageClassificationData.from_folders(train_folder=tmp_path / "empty", **KW)
    Image.fromarray(color_image("red", 0)).save(tmp_path / "empty" / "flat.png")
    with pytest.raises(DataError, match="has files but no class sub-folders"):
        ImageClassificationData.from_folders(train_folder=tmp_path / "empty", **KW)


def test_nonexistent_and_unreadable_paths(tmp_path, folders):
    with pytest.raises(DataError, match=r"train folder '.*nowhere' does not exist"):
        ImageClassificationData.from_folders(train_folder=tmp_path / "nowhere", **KW)
    with pytest.raises(DataError, match="is a file, not a folder"):
        ImageClassificationData.from_folders(train_folder=folders / "predict" / "0_blue.png", **KW)
    with pytest.raises(DataError, match=r"Cannot read image '.*missing\.png': the file does not exist"):
        ImageClassificationData.from_files(train_files=[tmp_path / "missing.png"], train_targets=["a"], **KW)
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked"
        locked.mkdir(mode=0)
        with pytest.raises(DataError, match="Cannot read the train folder"):
            ImageClassificationData.from_folders(train_folder=locked, **KW)


def test_csv_missing_column_names_the_file_and_the_columns(tmp_path, folders):
    (tmp_path / "train.csv").write_text("path,species\na.png,cat\n")
    with pytest.raises(
        DataError,
        match=r"CSV file '.*train\.csv' has no column\(s\) \['image'\]; its columns are \['path', 'species'\]",
    ):
        ImageClassificationData.from_csv("image", "species", train_file=tmp_path / "train.csv", **KW)
    with pytest.raises(DataError, match=r"CSV file '.*nope\.csv' does not exist"):
        ImageClassificationData.from_csv("image", "species", train_file=tmp_path / "nope.csv", **KW)


def test_unseen_label_in_val_or_test(folders, tmp_path):
    write_folder(tmp_path / "val2", 1, classes=("blue", "green"))
    with pytest.raises(DataError, match=r"Unknown label 'green' in the val data.*\['blue', 'red'\]"):
        ImageClassificationData.from_folders(train_folder=folders / "train", val_folder=tmp_path / "val2", **KW)
    (tmp_path / "test.csv").write_text(f"image,label\n{folders / 'test' / 'red' / '0.png'},purple\n")
    (tmp_path / "train.csv").write_text(
        f"image,label\n{folders / 'train' / 'red' / '0.png'},red\n{folders / 'train' / 'blue' / '0.png'},blue\n"
    )
    with pytest.raises(DataError, match=r"Unknown label 'purple' in the test data"):
        ImageClassificationData.from_csv(
            "image", "label", train_file=tmp_path / "train.csv", test_file=tmp_path / "test.csv", **KW
        )


def test_mismatched_lengths_and_bad_arrays():
    with pytest.raises(DataError, match="3 images but 2 targets"):
        ImageClassificationData.from_numpy(train_data=np.zeros((3, 4, 4), np.uint8), train_targets=[0, 1], **KW)
    with pytest.raises(DataError, match=r"shape=\(4, 4\)"):
        ImageClassificationData.from_numpy(train_data=np.zeros((4, 4), np.uint8), train_targets=[0, 1, 0, 1], **KW)
    with pytest.raises(ConfigurationError, match="val_targets was given without val data"):
        ImageClassificationData.from_files(train_files=[], val_targets=["a"], **KW)
