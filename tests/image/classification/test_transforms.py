"""ImageClassificationInputTransform: settings, late filling, and what a checkpoint stores."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from flash.errors import ConfigurationError
from flash.image import ImageClassificationInputTransform


def test_train_flips_eval_does_not_and_both_normalize():
    transform = ImageClassificationInputTransform(image_size=(4, 6), mean=0.5, std=0.5)
    image = Image.new("RGB", (12, 8))
    image.paste((255, 255, 255), (0, 0, 6, 8))  # left half white
    val = transform.per_sample_transform("val")({"input": image})["input"]
    assert val.shape == (3, 4, 6) and type(val) is torch.Tensor
    assert val[:, :, 0].min() == 1.0 and val[:, :, -1].max() == -1.0  # (1 - 0.5) / 0.5 and (0 - 0.5) / 0.5
    train = transform.per_sample_transform("train")
    torch.manual_seed(0)
    lefts = {float(train({"input": image})["input"][0, 0, 0]) for _ in range(20)}
    assert lefts == {1.0, -1.0}  # flipped sometimes


def test_settings_filled_later_take_effect_in_existing_transforms():
    transform = ImageClassificationInputTransform(image_size=8)
    apply = transform.per_sample_transform("val")  # handed to a dataset before the model is known
    transform.fill_defaults(image_size=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    out = apply({"input": Image.new("RGB", (10, 10), (255, 0, 0))})["input"]
    assert out.shape == (3, 8, 8)  # the explicit size wins
    assert torch.allclose(out[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))  # the filled mean/std are used
    assert transform.state_dict()["kwargs"] == {"image_size": [8, 8], "mean": [0.0] * 3, "std": [1.0] * 3}


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigurationError, match=r"image_size=\(0, 4\)"):
        ImageClassificationInputTransform(image_size=(0, 4))
    with pytest.raises(ConfigurationError, match="mean must have 1 or 3 values"):
        ImageClassificationInputTransform(mean=(0.1, 0.2))
