"""EfficientDet D0-D7 (Ross Wightman's ``effdet`` package) behind torchvision's detector interface.

``ObjectDetector(head="efficientdet", backbone="d0")`` as in Lightning Flash. The adapter takes a
list of ``(3, H, W)`` images, scales each to fit a square canvas of ``image_size`` (rounded up to a
multiple of 128, as EfficientDet's feature pyramid needs), pads, and returns torchvision-style losses
(training) or ``[{"boxes", "labels", "scores"}]`` in the input images' pixels (eval). Class 0 is the
background: effdet's classes are 1-based, like flash's.

``EFFICIENTDET_CONFIGS`` maps ``"d0"``..``"d7"`` to effdet configs; tests register tiny ones there.

Example:
    >>> detector = HEADS.get("efficientdet")("d0", num_classes=3, pretrained=False, norm="bn",  # doctest: +SKIP
    ...                                      image_size=256)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from flash.errors import ConfigurationError, require
from flash.registry import Registry

EFFICIENTDET_BACKBONES = tuple(f"d{i}" for i in range(8))
EFFICIENTDET_CONFIGS = Registry("efficientdet configs")


def _config_factory(variant: str):
    def build() -> Any:
        effdet = require("effdet", "efficientdet", purpose="head='efficientdet'")
        name = f"efficientdet_{variant}"
        known = effdet.config.model_config.efficientdet_model_param_dict
        return effdet.get_efficientdet_config(name if name in known else f"tf_efficientdet_{variant}")

    return build


for _variant in EFFICIENTDET_BACKBONES:
    EFFICIENTDET_CONFIGS.register(_config_factory(_variant), name=_variant)


class EfficientDetAdapter(torch.nn.Module):
    """An effdet ``EfficientDet`` that speaks torchvision's ``model(images[, targets])`` protocol."""

    def __init__(self, config: Any, *, num_classes: int, pretrained: bool | str, image_size: int) -> None:
        super().__init__()
        effdet = require("effdet", "efficientdet", purpose="head='efficientdet'")
        self.size = max(128, int(math.ceil(image_size / 128)) * 128)
        config.image_size = (self.size, self.size)
        net = effdet.EfficientDet(config, pretrained_backbone=False)  # COCO weights below cover the backbone
        if isinstance(pretrained, str) or pretrained is True:
            _load_coco(net, config, pretrained)
        net.reset_head(num_classes=num_classes)
        self.train_bench = effdet.DetBenchTrain(net, create_labeler=True)
        self.predict_bench = effdet.DetBenchPredict(net)
        self.backbone = net.backbone  # what finetuning strategies freeze

    def _canvas(self, images: list[torch.Tensor]) -> tuple[torch.Tensor, list[float]]:
        """``[(3, h, w)]`` -> ``(B, 3, S, S)`` (scaled to fit, padded bottom-right) and each image's scale."""
        batch = images[0].new_zeros((len(images), 3, self.size, self.size))
        scales = []
        for i, image in enumerate(images):
            scale = self.size / max(image.shape[-2:])
            h, w = (max(1, round(d * scale)) for d in image.shape[-2:])
            batch[i, :, :h, :w] = torch.nn.functional.interpolate(image[None], size=(h, w), mode="bilinear",
                                                                  align_corners=False)[0]
            scales.append(scale)
        return batch, scales

    def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None) -> Any:
        batch, scales = self._canvas(images)
        if self.training:
            if targets is None:
                raise ConfigurationError("EfficientDet needs targets in training mode (model.train()).")
            bbox = [(t["boxes"] * s)[:, [1, 0, 3, 2]].float() for t, s in zip(targets, scales)]  # XYXY -> YXYX
            losses = self.train_bench(batch, {"bbox": bbox, "cls": [t["labels"].float() for t in targets]})
            return {"classification": losses["class_loss"], "bbox_regression": losses["box_loss"]}
        info = {"img_scale": torch.tensor([1.0 / s for s in scales], device=batch.device),
                "img_size": torch.tensor([[self.size, self.size]] * len(images), device=batch.device)}
        detections = self.predict_bench(batch, img_info=info)  # (B, max_det, 6): x1 y1 x2 y2 score class
        found = []
        for rows, image in zip(detections, images):
            rows = rows[rows[:, 4] > 0]
            h, w = image.shape[-2:]
            boxes = torch.stack([rows[:, 0].clamp(0, w), rows[:, 1].clamp(0, h), rows[:, 2].clamp(0, w),
                                 rows[:, 3].clamp(0, h)], dim=1)
            found.append({"boxes": boxes, "scores": rows[:, 4], "labels": rows[:, 5].long()})
        return found


def _load_coco(net: torch.nn.Module, config: Any, pretrained: bool | str) -> None:
    """COCO weights: effdet's own download (``pretrained=True``) or a local ``.pth`` file."""
    from flash.image.classification.backbones import read_state_dict

    if isinstance(pretrained, str):
        state = read_state_dict(pretrained)
    else:
        url = config.get("url", "")
        if not url:  # e.g. a config registered for tests
            warnings.warn(f"The EfficientDet config {config.get('name')!r} names no COCO weights (no 'url'); "
                          "its weights stay random. Pass pretrained=False to silence this.", UserWarning, stacklevel=4)
            return
        try:
            state = torch.hub.load_state_dict_from_url(url, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - offline, proxy, HTTP errors
            raise ConfigurationError(
                f"Cannot download the COCO weights of {config.name!r} from {url}: {err}. They are cached under "
                f"'{torch.hub.get_dir()}/checkpoints'; offline, download the file elsewhere and pass "
                "pretrained='path/to/weights.pth', or pretrained=False for random weights."
            ) from None
    net.load_state_dict(state, strict=False)


def efficientdet(backbone: str, *, num_classes: int, pretrained: bool | str, norm: str, image_size: int,
                 **kwargs: Any) -> torch.nn.Module:
    """EfficientDet ``backbone`` (``"d0"``..``"d7"``); ``num_classes`` counts the background (class 0)."""
    config = EFFICIENTDET_CONFIGS.get(backbone)()
    for key, value in kwargs.items():
        config[key] = value
    return EfficientDetAdapter(config, num_classes=num_classes - 1, pretrained=pretrained, image_size=image_size)
