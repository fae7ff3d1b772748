"""SemanticSegmentationData: each mask kind, pairing by name, laziness, and bad input named by its file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flash.errors import ConfigurationError, DataError
from flash.image import SemanticSegmentationData

from .conftest import CLASS_COLOURS, blocky_mask, image_for, write_pairs


def _batch(datamodule, stage: str = "train") -> dict:
    return next(iter(getattr(datamodule, f"{stage}_dataloader")()))


def _first_target(datamodule, stage: str = "train") -> np.ndarray:
    dataset = getattr(datamodule, f"{stage}_dataset")
    source = dataset.source if hasattr(dataset, "source") else dataset
    return source.load_sample(dict(source.samples[0]))["target"]


@pytest.mark.parametrize("kind, said", [("index", "single-channel class-index"), ("palette", "single-channel"),
                                        ("red", "red channel"), ("colour", "colour masks")])
def test_every_mask_kind_reads_the_same_classes(tmp_path, kind, said):
    images, masks = write_pairs(tmp_path, kind=kind)
    labels_map = CLASS_COLOURS if kind == "colour" else None
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks, num_classes=3,
                                                       labels_map=labels_map, batch_size=2, num_workers=0)
    assert said in datamodule.mask_kind and said in repr(datamodule)
    expected = blocky_mask(np.random.default_rng(0))  # the first mask write_pairs drew
    assert _first_target(datamodule).tolist() == expected.astype(np.int64).tolist()


def test_batches_are_resized_image_and_mask_with_the_original_size_kept(tmp_path):
    images, masks = write_pairs(tmp_path, count=3)
    datamodule = SemanticSegmentationData.from_folders(
        train_folder=images, train_target_folder=masks, val_folder=images, val_target_folder=masks,
        transform_kwargs=dict(image_size=(32, 48)), num_classes=3, batch_size=3, num_workers=0)
    batch = _batch(datamodule, "val")
    assert batch["input"].shape == (3, 3, 32, 48) and batch["input"].dtype == torch.float32
    assert batch["target"].shape == (3, 32, 48) and batch["target"].dtype == torch.int64
    assert set(batch["target"].unique().tolist()) <= {0, 1, 2}
    assert [m["size"] for m in batch["metadata"]] == [(40, 60)] * 3
    assert datamodule.num_classes == 3


def test_num_classes_read_from_the_masks_when_not_given(tmp_path):
    images, masks = write_pairs(tmp_path, count=6)
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks, val_split=0.5,
                                                       num_workers=0)
    assert datamodule.num_classes == 3 and len(datamodule.val_dataset) == 3


def test_building_decodes_nothing(tmp_path, monkeypatch):
    """Listing and pairing only: no image or mask is decoded until the DataLoader asks for it."""
    import flash.image.segmentation.input as inputs

    decoded = []
    monkeypatch.setattr(inputs, "read_mask", lambda *a, **k: decoded.append(a) or np.zeros((40, 60), np.int64))
    monkeypatch.setattr(inputs, "as_rgb_image", lambda *a, **k: decoded.append(a))
    images, masks = write_pairs(tmp_path, count=5)
    SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks, val_split=0.2,
                                          num_classes=3, num_workers=0)
    assert decoded == []


def test_masks_pair_with_images_by_name_and_suffix(tmp_path):
    from PIL import Image

    images, masks = write_pairs(tmp_path, count=2)
    for path in sorted(masks.iterdir()):
        path.rename(masks / f"{path.stem}_mask.png")
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(masks / "orphan.png")
    with pytest.warns(UserWarning, match="1 masks in .* have no image.*orphan.png"):
        datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                           num_classes=3, num_workers=0)
    samples = datamodule.train_dataset.samples
    assert [(s["input"].rsplit("/", 1)[1], s["target"].rsplit("/", 1)[1]) for s in samples] == [
        ("0.png", "0_mask.png"), ("1.png", "1_mask.png")]


def test_an_image_without_mask_is_named(tmp_path):
    images, masks = write_pairs(tmp_path, count=3)
    (masks / "1.png").unlink()
    with pytest.raises(DataError, match=r"1 train images have no mask in .*'1.png'"):
        SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks, num_classes=3)


def test_an_empty_mask_folder_is_named(tmp_path):
    images, _ = write_pairs(tmp_path, count=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"The train mask folder '.*empty' holds no mask images"):
        SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=tmp_path / "empty",
                                              num_classes=3)


def test_a_mask_of_another_size_names_both_files(tmp_path):
    from PIL import Image

    images, masks = write_pairs(tmp_path, count=2)
    Image.fromarray(np.zeros((30, 60), np.uint8)).save(masks / "0.png")
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=3, num_workers=0, batch_size=2)
    with pytest.raises(DataError, match=r"mask '.*0.png' is 60x30 pixels but its image '.*images/0.png' is 60x40"):
        _batch(datamodule)


def test_a_class_outside_num_classes_is_named(tmp_path):
    from PIL import Image

    images, masks = write_pairs(tmp_path, count=2)
    mask = np.zeros((40, 60), np.uint8)
    mask[:2, :3] = 7
    Image.fromarray(mask).save(masks / "1.png")
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=5, num_workers=0, batch_size=2)
    with pytest.raises(DataError, match=r"mask '.*1.png' holds class 7 \(6 pixels\), but num_classes=5 allows 0..4"):
        _batch(datamodule)


def test_ignored_pixels_are_allowed(tmp_path):
    from PIL import Image

    images, masks = write_pairs(tmp_path, count=1)
    mask = blocky_mask(np.random.default_rng(0))
    mask[0, :] = 255
    Image.fromarray(mask).save(masks / "0.png")
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=3, num_workers=0, batch_size=1)
    assert 255 in _batch(datamodule)["target"].unique().tolist()


def test_a_colour_missing_from_labels_map_is_named(tmp_path):
    images, masks = write_pairs(tmp_path, count=2, kind="colour")
    labels_map = {0: (0, 0, 0), 1: (200, 30, 30)}  # class 2's green is missing
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=3, labels_map=labels_map, num_workers=0)
    with pytest.raises(DataError, match=r"mask '.*0.png' has \d+ pixels of colour \(30, 200, 30\), which labels_map "
                                        r"does not name"):
        _first_target(datamodule)


def test_a_colour_mask_without_labels_map_says_to_pass_one(tmp_path):
    images, masks = write_pairs(tmp_path, count=1, kind="colour")
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=3, num_workers=0)
    with pytest.raises(DataError, match=r"mask '.*0.png' is an RGB colour mask .* Pass labels_map="):
        _first_target(datamodule)


@pytest.mark.parametrize("which", ["images", "masks"])
def test_a_corrupt_png_is_named(tmp_path, which):
    images, masks = write_pairs(tmp_path, count=2)
    folder = images if which == "images" else masks
    (folder / "1.png").write_bytes((folder / "1.png").read_bytes()[:60])
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       num_classes=3, num_workers=0, batch_size=2)
    dataset = datamodule.train_dataset
    with pytest.raises(DataError, match=rf"Cannot read (image|mask) '.*{which}/1.png'"):
        dataset[1]


def test_bad_labels_map_and_mismatched_arguments(tmp_path):
    images, masks = write_pairs(tmp_path, count=1)
    with pytest.raises(ConfigurationError, match="same colour"):
        SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                              labels_map={0: (0, 0, 0), 1: (0, 0, 0)})
    with pytest.raises(ConfigurationError, match="Pass both train_folder .* and train_target_folder"):
        SemanticSegmentationData.from_folders(train_folder=images, num_classes=3)


def test_from_numpy_tensors_files_and_datasets(tmp_path):
    rng = np.random.default_rng(1)
    masks = np.stack([blocky_mask(rng) for _ in range(4)])
    images = np.stack([image_for(m) for m in masks])
    for build in (SemanticSegmentationData.from_numpy, SemanticSegmentationData.from_tensors):
        data, targets = (images, masks) if build is SemanticSegmentationData.from_numpy else (
            torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(masks))
        datamodule = build(data, targets, predict_data=data[:1], num_classes=3, batch_size=4, num_workers=0,
                           transform_kwargs=dict(image_size=32))
        assert datamodule.mask_kind.startswith("single-channel")
        batch = _batch(datamodule)
        assert batch["input"].shape == (4, 3, 32, 32) and batch["target"].shape == (4, 32, 32)
        assert _batch(datamodule, "predict")["metadata"][0]["size"] == (40, 60)

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return images[i], masks[i]

    datamodule = SemanticSegmentationData.from_datasets(Pairs(), num_classes=3, batch_size=4, num_workers=0,
                                                        transform_kwargs=dict(image_size=32))
    assert _batch(datamodule)["target"].shape == (4, 32, 32)

    image_dir, mask_dir = write_pairs(tmp_path, count=2)
    files = sorted(str(p) for p in image_dir.iterdir())
    datamodule = SemanticSegmentationData.from_files(files, sorted(str(p) for p in mask_dir.iterdir()),
                                                     predict_files=files, num_classes=3, num_workers=0)
    assert len(datamodule.train_dataset) == 2 and len(datamodule.predict_dataset) == 2
    with pytest.raises(DataError, match="one mask per image"):
        SemanticSegmentationData.from_files(files, files[:1], num_classes=3)
