"""``ImageClassificationInputTransform``: resize (+ flip when training), to tensor, normalize.

Unset settings (``None``) are filled from the backbone's data config when training starts, so
``ImageClassificationData.from_folders(...)`` needs no sizes or statistics. The transforms read
the settings each time they run, so filling them later takes effect in every stage.

Example:
    >>> transform = ImageClassificationInputTransform(image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3)
    >>> from PIL import Image
    >>> sample = transform.per_sample_transform("val")({"input": Image.new("RGB", (64, 48))})
    >>> tuple(sample["input"].shape)
    (3, 32, 32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flash.core.data import INPUT, InputTransform
from flash.errors import ConfigurationError, require

DEFAULT_IMAGE_SIZE = (224, 224)
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)
SETTINGS = ("image_size", "mean", "std")


def _size(image_size: Any) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int):
        return (image_size, image_size)
    if (
        isinstance(image_size, Sequence)
        and len(image_size) == 2
        and all(isinstance(v, int) and v > 0 for v in image_size)
    ):
        return (int(image_size[0]), int(image_size[1]))
    raise ConfigurationError(
        f"image_size must be an int or a (height, width) pair of positive ints. Received: image_size={image_size!r}"
    )


def _stats(name: str, value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = (float(value),) * 3 if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    if len(values) not in (1, 3):
        raise ConfigurationError(f"{name} must have 1 or 3 values (one per RGB channel). Received: {name}={value!r}")
    return values * 3 if len(values) == 1 else values


class ImageClassificationInputTransform(InputTransform):
    """Resize to ``image_size`` (h, w), random horizontal flip when training, normalize with ``mean``/``std``.

    Args:
        image_size: an int or ``(height, width)``; None: the backbone's input size.
        mean, std: per-channel statistics; None: the backbone's.
    """

    def __init__(
        self,
        image_size: int | tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.image_size, self.mean, self.std = _size(image_size), _stats("mean", mean), _stats("std", std)
        self._pipelines: dict[tuple, Callable] = {}
        self._sync_kwargs()

    def _sync_kwargs(self) -> None:
        self.kwargs = {"image_size": self.image_size, "mean": self.mean, "std": self.std}  # what a checkpoint stores

    def settings(self) -> dict[str, Any]:
        """The settings in use: given ones, else the backbone's (once filled), else ImageNet-like defaults."""
        return {
            "image_size": self.image_size or DEFAULT_IMAGE_SIZE,
            "mean": self.mean or DEFAULT_MEAN,
            "std": self.std or DEFAULT_STD,
        }

    def fill_defaults(self, *, image_size: Any = None, mean: Any = None, std: Any = None) -> None:
        """Set the settings that are still None (explicit user choices win)."""
        self.image_size = self.image_size or _size(image_size)
        self.mean = self.mean or _stats("mean", mean)
        self.std = self.std or _stats("std", std)
        self._sync_kwargs()

    def build(self, train: bool) -> Callable:
        """The torchvision v2 pipeline for the current settings (PIL image -> normalized float tensor)."""
        require("torchvision", "image", purpose="image transforms")
        import torch
        from torchvision.transforms import v2

        s = self.settings()
        steps = [v2.Resize(list(s["image_size"]), antialias=True)]
        if train:
            steps.append(v2.RandomHorizontalFlip())
        steps += [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(s["mean"]), list(s["std"])),
            v2.ToPureTensor(),
        ]
        return v2.Compose(steps)

    def pipeline(self, train: bool) -> Callable:
        key = (train, self.image_size, self.mean, self.std)
        if key not in self._pipelines:
            self._pipelines[key] = self.build(train)
        return self._pipelines[key]

    def per_sample_transform(self, stage: str) -> Callable[[dict], dict]:
        return _SampleTransform(self, train=stage == "train")

    def deterministic(self, stage: str) -> bool:
        return stage != "train"  # training flips at random


class _SampleTransform:
    """Applies the transform's current pipeline to a sample's ``"input"`` (picklable for workers)."""

    def __init__(self, transform: ImageClassificationInputTransform, *, train: bool) -> None:
        self.transform, self.train = transform, train

    def __call__(self, sample: dict) -> dict:
        sample[INPUT] = self.transform.pipeline(self.train)(sample[INPUT])
        return sample
