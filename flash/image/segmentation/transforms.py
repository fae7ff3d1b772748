"""Per-sample transforms for segmentation: the image and its mask move together (torchvision transforms v2).

The mask travels as a ``tv_tensors.Mask``, so every geometric step (resize, flip, crop) is applied to both,
with nearest-neighbour interpolation for the mask (class indices are never blended). Samples keep their
original ``(height, width)`` in ``metadata["size"]``: predictions are mapped back to it.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> transform = SemanticSegmentationInputTransform(image_size=(32, 48))
    >>> sample = transform.per_sample_transform("val")({"input": Image.new("RGB", (64, 40)),
    ...                                                 "target": np.zeros((40, 64), dtype=np.int64)})
    >>> tuple(sample["input"].shape), tuple(sample["target"].shape), sample["metadata"]["size"]
    ((3, 32, 48), (32, 48), (40, 64))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from flash.core.data import INPUT, METADATA, TARGET, InputTransform
from flash.errors import ConfigurationError, require

DEFAULT_IMAGE_SIZE = (256, 256)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def image_size_pair(image_size: Any) -> tuple[int, int]:
    """``256`` or ``(256, 320)`` -> ``(height, width)``."""
    if isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0:
        return (image_size, image_size)
    if isinstance(image_size, Sequence) and len(image_size) == 2 and all(
            isinstance(v, int) and v > 0 for v in image_size):
        return (int(image_size[0]), int(image_size[1]))
    raise ConfigurationError("image_size must be an int or a (height, width) pair of positive ints. "
                             f"Received: image_size={image_size!r}")


class SegmentationSampleTransform:
    """``{"input": PIL image, "target": (H, W) ints}`` -> normalized ``(3, h, w)`` float and ``(h, w)`` int64.

    ``resize=False`` keeps the image's own size (sliding-window prediction); picklable for DataLoader workers.
    """

    def __init__(self, image_size: tuple[int, int], *, mean: Sequence[float], std: Sequence[float], train: bool,
                 random_crop: bool = False, ignore_index: int | None = 255, resize: bool = True) -> None:
        from torchvision.transforms import v2

        steps: list[Any] = [v2.ToImage()]
        if train and random_crop:
            steps.append(v2.RandomResizedCrop(list(image_size), scale=(0.5, 1.0), antialias=True))
        elif resize:
            steps.append(v2.Resize(list(image_size), antialias=True))
        if train:
            steps.append(v2.RandomHorizontalFlip(p=0.5))
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
        self.pipeline = v2.Compose(steps)

    def __call__(self, sample: dict) -> dict:
        from torchvision import tv_tensors
        from torchvision.transforms.v2.functional import to_image

        image = to_image(sample[INPUT])
        metadata = dict(sample.get(METADATA) or {})
        metadata.setdefault("size", tuple(int(v) for v in image.shape[-2:]))
        data: dict[str, Any] = {"image": image}
        target = sample.get(TARGET)
        if target is not None:
            data["mask"] = tv_tensors.Mask(torch.as_tensor(target, dtype=torch.int64))
        data = self.pipeline(data)
        out = {**sample, INPUT: data["image"].as_subclass(torch.Tensor), METADATA: metadata}
        if target is not None:
            out[TARGET] = data["mask"].as_subclass(torch.Tensor)
        return out


class SemanticSegmentationInputTransform(InputTransform):
    """Resize image and mask to ``image_size``, flip both when training, normalize the image.

    Args:
        image_size: an int or ``(height, width)`` the model trains on (a multiple of 32 suits every head).
        mean, std: per-channel statistics (ImageNet's by default, as the encoders' weights expect).
        random_crop: when training, a random crop of 50-100% of the image (resized to ``image_size``) instead
            of the whole image: more variety for small data sets.
        ignore_index: the mask value that means "not labelled" (loss and metrics skip it).
    """

    def __init__(self, image_size: int | tuple[int, int] = DEFAULT_IMAGE_SIZE, mean: Sequence[float] = MEAN,
                 std: Sequence[float] = STD, random_crop: bool = False, ignore_index: int | None = 255) -> None:
        super().__init__()
        self.image_size = image_size_pair(image_size)
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ConfigurationError(f"mean and std need 3 values (RGB). Received: mean={mean!r}, std={std!r}")
        self.random_crop, self.ignore_index = bool(random_crop), ignore_index
        self.kwargs = {"image_size": self.image_size, "mean": self.mean, "std": self.std,
                       "random_crop": self.random_crop, "ignore_index": ignore_index}

    def build(self, *, train: bool, resize: bool = True) -> SegmentationSampleTransform:
        require("torchvision", "image", purpose="segmentation transforms")
        return SegmentationSampleTransform(self.image_size, mean=self.mean, std=self.std, train=train,
                                           random_crop=self.random_crop, ignore_index=self.ignore_index,
                                           resize=resize)

    def per_sample_transform(self, stage: str) -> Callable[[dict], dict]:
        return self.build(train=stage == "train")

    def deterministic(self, stage: str) -> bool:
        return stage != "train"
