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
        """The pipeline for the current settings: image -> resized (flipped) normalized float CHW tensor."""
        require("torchvision", "image", purpose="image transforms")
        s = self.settings()
        return _Pipeline(s["image_size"], s["mean"], s["std"], flip=train)

    def pipeline(self, train: bool) -> Callable:
        key = (train, self.image_size, self.mean, self.std)
        if key not in self._pipelines:
            self._pipelines[key] = self.build(train)
        return self._pipelines[key]

    def per_sample_transform(self, stage: str) -> Callable[[dict], dict]:
        return _SampleTransform(self, train=stage == "train")

    def decode_size(self) -> tuple[int, int] | None:
        """The resize target, when this class's own pipeline runs (a subclass's may crop the full image first)."""
        own = type(self).per_sample_transform is ImageClassificationInputTransform.per_sample_transform
        return self.settings()["image_size"] if own else None

    def deterministic(self, stage: str) -> bool:
        return stage != "train"  # training flips at random


class _SampleTransform:
    """Applies the transform's current pipeline to a sample's ``"input"`` (picklable for workers)."""

    def __init__(self, transform: ImageClassificationInputTransform, *, train: bool) -> None:
        self.transform, self.train = transform, train

    def __call__(self, sample: dict) -> dict:
        sample[INPUT] = self.transform.pipeline(self.train)(sample[INPUT])
        return sample


class _Pipeline:
    """Resize (antialiased, as torchvision's ``v2.Resize``), flip at random when training, then scale to [0, 1] and
    normalize in place on a contiguous tensor.

    The same output as the ``v2.Compose`` of those transforms (to float rounding), 0.2-0.5 ms less per image:
    ``ToImage`` gives a channels-last view that ``Normalize`` then walks slowly, and each ``v2`` step pays for
    its type dispatch (``benchmarks/image_data_throughput.py``).
    """

    def __init__(self, image_size: tuple[int, int], mean: Sequence[float], std: Sequence[float], *,
                 flip: bool) -> None:
        import torch

        self.size, self.flip = list(image_size), flip
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, image: Any) -> Any:
        import torch
        from torchvision.transforms.v2 import functional as F

        image = F.resize(image, self.size, antialias=True)
        if self.flip and torch.rand(1) < 0.5:  # one draw per image, like v2.RandomHorizontalFlip
            image = F.horizontal_flip(image)
        pixels = F.to_image(image).as_subclass(torch.Tensor)
        if pixels.dtype == torch.uint8:
            pixels = pixels.contiguous().to(torch.float32).div_(255.0)
        else:  # a float image is in [0, 1] already (as for v2.ToDtype)
            pixels = pixels.to(torch.float32, copy=True)
        return pixels.sub_(self.mean).div_(self.std)
