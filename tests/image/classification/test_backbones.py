"""The backbone registry: timm (default), torchvision, local folders and weights files."""

from __future__ import annotations

import json

import pytest
import torch

from flash.errors import ConfigurationError
from flash.image import ImageClassifier
from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES


def test_timm_names_with_and_without_prefix_give_the_same_model():
    torch.manual_seed(0)
    plain = IMAGE_CLASSIFIER_BACKBONES.get("test_resnet")(pretrained=False)
    torch.manual_seed(0)
    prefixed = IMAGE_CLASSIFIER_BACKBONES.get("timm:test_resnet")(pretrained=False)
    assert plain.num_features == prefixed.num_features == 96
    assert plain.data_config == {"image_size": (160, 160), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    x = torch.randn(2, 3, 32, 32)
    plain.module.eval(), prefixed.module.eval()
    assert torch.equal(plain.module(x), prefixed.module(x))
    assert plain.module(x).shape == (2, 96)  # (B, 3, H, W) -> (B, num_features)


@pytest.mark.parametrize("name, features, size", [("torchvision:mobilenet_v2", 1280, 224),
                                                  ("torchvision:squeezenet1_1", 512, 224)])
def test_torchvision_classifier_is_removed_and_preprocessing_comes_from_weights(name, features, size):
    model = ImageClassifier(3, backbone=name, pretrained=False).eval()
    assert model.num_features == features
    assert model.data_config == {
        "image_size": (size, size),
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    }
    assert model.backbone(torch.randn(1, 3, 64, 64)).shape == (1, features)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_unknown_torchvision_name_suggests_one():
    with pytest.raises(ConfigurationError, match="Did you mean 'torchvision:mobilenet_v2'"):
        ImageClassifier(2, backbone="torchvision:mobilenet_v9")


def _saved_timm(tmp_path, fmt: str):
    import timm

    torch.manual_seed(1)
    full = timm.create_model("test_resnet", pretrained=False, num_classes=10)  # with its own classifier
    path = tmp_path / ("model.safetensors" if fmt == "safetensors" else "weights.pth")
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in full.state_dict().items()}, path)
    else:
        torch.save({"state_dict": full.state_dict()}, path)
    return full, path


def test_local_folder_with_config_and_safetensors(tmp_path):
    full, _ = _saved_timm(tmp_path, "safetensors")
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "architecture": "test_resnet",
                "num_classes": 10,
                "pretrained_cfg": {"input_size": [3, 48, 40], "mean": [0.4] * 3},
            }
        )
    )
    model = ImageClassifier(3, backbone=str(tmp_path))
    assert torch.equal(model.backbone.conv1[0].weight, full.conv1[0].weight)
    assert model.data_config["image_size"] == (48, 40) and model.data_config["mean"] == (0.4, 0.4, 0.4)
    random = ImageClassifier(3, backbone=str(tmp_path), pretrained=False)
    assert not torch.equal(random.backbone.conv1[0].weight, full.conv1[0].weight)


def test_pretrained_weights_file_pth(tmp_path):
    full, path = _saved_timm(tmp_path, "pth")
    model = ImageClassifier(3, backbone="test_resnet", pretrained=str(path))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, full.state_dict()[key]), key
    assert model.hparams["pretrained"] == str(path)


def test_bad_weights_files_say_what_is_wrong(tmp_path):
    _, path = _saved_timm(tmp_path, "pth")
    with pytest.raises(
        ConfigurationError,
        match=r"does not match the backbone: \d+ tensor\(s\) have other shapes, e\.g\. "
        r"conv1\.0\.weight: file \(16, 3, 3, 3\) vs model \(24, 3, 3, 3\)",
    ):
        ImageClassifier(3, backbone="resnet10t", pretrained=str(path))
    with pytest.raises(ConfigurationError, match=r"Weights file '.*nope\.pth' does not exist"):
        ImageClassifier(3, backbone="test_resnet", pretrained=str(tmp_path / "nope.pth"))
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ConfigurationError, match=r"Cannot read weights file '.*junk\.pth'"):
        ImageClassifier(3, backbone="test_resnet", pretrained=str(tmp_path / "junk.pth"))
    folder = tmp_path / "no_arch"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ConfigurationError, match='no "architecture" entry'):
        ImageClassifier(3, backbone=str(folder))
