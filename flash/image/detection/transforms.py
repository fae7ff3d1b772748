"""Per-sample transforms for detection: boxes move with the image (torchvision transforms v2).

Images are resized so that their longer side is ``image_size`` (aspect ratio kept); training also
flips horizontally. Boxes travel as ``tv_tensors.BoundingBoxes`` (``XYXY`` pixels), so every
geometric transform moves them too. Samples keep their original size in ``metadata["size"]``
so predictions can be mapped back to the original image.

Example:
    >>> transform = ObjectDetectionInputTransform(image_size=128)
    >>> step = transform.per_sample_transform("train")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from flash.core.data import INPUT, METADATA, TARGET, InputTransform


class DetectionSampleTransform:
    """Apply a v2 pipeline to ``{"input": image, "target": {"boxes", "labels"}}``; picklable for workers."""

    def __init__(self, image_size: int, *, train: bool) -> None:
        from torchvision.transforms import v2

        steps = [v2.ToImage(), v2.Resize(size=None, max_size=image_size, antialias=True)]
        if train:
            steps.append(v2.RandomHorizontalFlip(p=0.5))
        steps.append(
            v2.ToDtype(torch.float32, scale=True)
        )  # boxes were checked when loaded; resizing keeps their area > 0
        self.pipeline = v2.Compose(steps)

    def __call__(self, sample: dict) -> dict:
        from torchvision import tv_tensors
        from torchvision.transforms.v2.functional import get_size, to_image

        image = to_image(sample[INPUT])
        height, width = get_size(image)
        metadata = dict(sample.get(METADATA) or {})
        metadata.setdefault("size", (height, width))
        target = sample.get(TARGET)
        boxes = torch.as_tensor(target["boxes"] if target else [], dtype=torch.float32).reshape(-1, 4)
        labels = torch.as_tensor(target["labels"] if target else [], dtype=torch.int64).reshape(-1)
        data = {
            "image": image,
            "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
            "labels": labels,
        }
        data = self.pipeline(data)
        sample = {**sample, INPUT: data["image"].as_subclass(torch.Tensor), METADATA: metadata}
        if target is not None:
            sample[TARGET] = {"boxes": data["boxes"].as_subclass(torch.Tensor), "labels": data["labels"]}
        return sample


def collate_detection(samples: list[dict]) -> dict[str, Any]:
    """Images differ in size, so a batch is lists: ``{"input": [C,H,W]..., "target": [dict]..., "metadata": [...]}``."""
    batch: dict[str, Any] = {INPUT: [s[INPUT] for s in samples], METADATA: [s.get(METADATA) or {} for s in samples]}
    if all(s.get(TARGET) is not None for s in samples):
        batch[TARGET] = [s[TARGET] for s in samples]
    return batch


class ObjectDetectionInputTransform(InputTransform):
    """Resize (longer side ``image_size``), flip when training, list-collate.

    Args:
        image_size: the longer side after resizing, in pixels (aspect ratio kept); for ``(h, w)`` the larger one.
    """

    def __init__(self, image_size: int | tuple[int, int] = 512, **kwargs: Any) -> None:
        super().__init__(image_size=image_size, **kwargs)
        self.image_size = max(image_size) if isinstance(image_size, (tuple, list)) else int(image_size)

    def per_sample_transform(self, stage: str) -> Callable[[dict], dict]:
        return DetectionSampleTransform(self.image_size, train=stage == "train")

    def collate(self, stage: str) -> Callable[[list[dict]], Any]:
        return collate_detection
