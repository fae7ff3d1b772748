"""Image and mask are transformed together: flips and crops never let them drift apart, masks stay classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flash.errors import ConfigurationError
from flash.image import SemanticSegmentationInputTransform

from .conftest import blocky_mask, image_for


def _classes_from_image(image: torch.Tensor, transform: SemanticSegmentationInputTransform) -> torch.Tensor:
    """Undo the normalisation and read the class back from the red channel (100 * class)."""
    red = image[0] * transform.std[0] + transform.mean[0]
    return torch.round(red * 255 / 100).long()


@pytest.mark.parametrize("random_crop", [False, True])
def test_flips_and_crops_move_image_and_mask_together(random_crop):
    torch.manual_seed(0)
    transform = SemanticSegmentationInputTransform(image_size=(48, 64), random_crop=random_crop)
    step = transform.per_sample_transform("train")
    mask = blocky_mask(np.random.default_rng(3), size=(60, 90))
    unflipped = step_without_randomness(transform, mask)
    changed = 0
    for _ in range(12):
        out = step({"input": Image.fromarray(image_for(mask)), "target": mask.copy()})
        read_back = _classes_from_image(out["input"], transform)
        interior = _away_from_edges(out["target"])
        agreement = (read_back[interior] == out["target"][interior]).float().mean()
        assert agreement == 1.0  # away from edges (where resizing blends colours) pixels match their classes
        assert set(out["target"].unique().tolist()) <= set(np.unique(mask).tolist())  # nearest: no new values
        changed += not torch.equal(out["target"], unflipped)
    assert changed >= 3  # the random flips / crops did happen


def step_without_randomness(transform, mask) -> torch.Tensor:
    return transform.per_sample_transform("val")({"input": Image.fromarray(image_for(mask)),
                                                  "target": mask.copy()})["target"]


def _away_from_edges(target: torch.Tensor) -> torch.Tensor:
    padded = torch.nn.functional.pad(target[None, None].float(), (1, 1, 1, 1), mode="replicate")
    neighbours = torch.nn.functional.unfold(padded, 3).reshape(9, *target.shape)
    return (neighbours == target.float()).all(0)


def test_evaluation_is_deterministic_and_keeps_the_original_size():
    transform = SemanticSegmentationInputTransform(image_size=32)
    mask = blocky_mask(np.random.default_rng(0))
    sample = {"input": Image.fromarray(image_for(mask)), "target": mask}
    first, second = (transform.per_sample_transform("val")(dict(sample)) for _ in range(2))
    assert torch.equal(first["input"], second["input"]) and torch.equal(first["target"], second["target"])
    assert first["metadata"]["size"] == (40, 60) and first["input"].shape == (3, 32, 32)
    assert transform.deterministic("val") and not transform.deterministic("train")


def test_unresized_transform_keeps_the_full_image_for_sliding_windows():
    transform = SemanticSegmentationInputTransform(image_size=32)
    out = transform.build(train=False, resize=False)({"input": Image.new("RGB", (90, 70))})
    assert out["input"].shape == (3, 70, 90)


def test_bad_settings_are_named():
    with pytest.raises(ConfigurationError, match="image_size must be an int or a"):
        SemanticSegmentationInputTransform(image_size=(32,))
    with pytest.raises(ConfigurationError, match="mean and std need 3 values"):
        SemanticSegmentationInputTransform(mean=(0.5,))
