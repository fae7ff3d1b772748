"""The speed paths change nothing a user sees: JPEG draft decoding, the plain-tensor pipeline, channels-last.

Each is checked against the slow way it replaces (torchvision's ``v2.Compose``, a full decode, a
contiguous backbone), not timed: the timings are in benchmarks/ (image_data_throughput.py,
finetune_e2e.py) and flash/image/memory_format.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flash.image import ImageClassificationData, ImageClassificationInputTransform, ImageClassifier
from flash.image.io import EXIF_ORIENTATION, load_image
from flash.image.memory_format import prefers_channels_last

from .conftest import TINY, write_folder

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def photo(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)).resize((width, height))


def test_pipeline_matches_torchvision_v2_compose():
    from torchvision.transforms import v2

    transform = ImageClassificationInputTransform(image_size=(20, 28), mean=MEAN, std=STD)
    reference = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(MEAN), list(STD))]
    image = photo(64, 48)
    evaluation = v2.Compose([v2.Resize([20, 28], antialias=True), *reference])
    assert torch.allclose(transform.pipeline(False)(image), evaluation(image), atol=1e-6)
    training = v2.Compose([v2.Resize([20, 28], antialias=True), v2.RandomHorizontalFlip(), *reference])
    torch.manual_seed(3)
    ours = [transform.pipeline(True)(image) for _ in range(8)]
    torch.manual_seed(3)
    theirs = [training(image) for _ in range(8)]  # the same draws flip the same images
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours, theirs))
    assert not all(torch.allclose(ours[0], o) for o in ours)  # some were flipped


def test_pipeline_takes_tensors_and_leaves_them_alone():
    transform = ImageClassificationInputTransform(image_size=8, mean=0.5, std=0.5)
    floats = torch.rand(3, 8, 8)
    before = floats.clone()
    assert torch.allclose(transform.pipeline(False)(floats), (before - 0.5) / 0.5)
    assert torch.equal(floats, before)
    uint8 = torch.full((3, 8, 8), 255, dtype=torch.uint8)
    assert torch.allclose(transform.pipeline(False)(uint8), torch.ones(3, 8, 8))


def test_a_large_jpeg_is_decoded_at_reduced_scale_never_below_the_size_asked(tmp_path):
    photo(400, 300).save(tmp_path / "big.jpg", quality=90)
    photo(400, 300).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.jpg").size == (400, 300)
    assert load_image(tmp_path / "big.jpg", min_size=(100, 100)).size == (200, 150)  # 1/2: 1/4 would be 100x75
    assert load_image(tmp_path / "big.jpg", min_size=(37, 37)).size == (50, 38)  # 1/8
    assert load_image(tmp_path / "big.jpg", min_size=(40, 40)).size == (100, 75)  # 1/8 would be 38 high
    assert load_image(tmp_path / "big.png", min_size=(40, 40)).size == (400, 300)  # only JPEGs have draft mode


def test_draft_follows_the_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # stored lying down: the upright picture is 100 wide and 800 high
    photo(800, 100).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    image = load_image(tmp_path / "phone.jpg", min_size=(12, 100))  # upright (height, width)
    assert image.size[0] >= 100 and image.size[1] >= 12  # not 13 wide, as the stored orientation would give
    assert load_image(tmp_path / "phone.jpg", min_size=(100, 12)).size == (13, 100)  # 1/8 of the upright picture


def test_the_datamodule_tells_every_input_the_size_to_decode_at(tmp_path):
    folder = write_folder(tmp_path / "train", 4)
    dm = ImageClassificationData.from_folders(train_folder=folder, val_split=0.5, batch_size=2,
                                              transform_kwargs={"image_size": 32})
    for dataset in (dm.train_dataset, dm.val_dataset):  # Subsets of one Input
        assert dataset.source.input_transform.decode_size() == (32, 32)

    class Cropping(ImageClassificationInputTransform):  # its own pipeline may crop the full image first
        def per_sample_transform(self, stage):
            return super().per_sample_transform(stage)

    assert Cropping(image_size=32).decode_size() is None


def test_channels_last_is_chosen_for_depthwise_networks_only():
    timm = pytest.importorskip("timm")
    assert prefers_channels_last(timm.create_model("mobilenetv3_small_050", pretrained=False))
    assert not prefers_channels_last(timm.create_model("resnet10t", pretrained=False))  # no depthwise convolutions
    assert not prefers_channels_last(timm.create_model("convnext_atto", pretrained=False))  # LayerNorm
    assert not ImageClassifier(2, backbone=TINY).channels_last


def test_channels_last_gives_the_same_outputs_and_weights():
    timm = pytest.importorskip("timm")
    del timm
    torch.manual_seed(0)
    fast = ImageClassifier(3, backbone="timm:mobilenetv3_small_050", pretrained=False)
    assert fast.channels_last
    assert fast.backbone.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    plain = ImageClassifier(3, backbone="timm:mobilenetv3_small_050", pretrained=False, channels_last=False)
    plain.load_state_dict(fast.state_dict())
    fast.eval(), plain.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(fast(images), plain(images), atol=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), plain.state_dict().values()))
