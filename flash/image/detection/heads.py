"""The detection heads (one ``Registry``), each a torchvision detector on a named backbone.

Every entry's metadata says which backbones it takes (``backbones``), whether torchvision reserves
class 0 for the background (``background``) and which backbones have full COCO-trained weights
(``coco_weights``: backbone -> torchvision builder name).

Example:
    >>> HEADS.metadata("fcos")["backbones"][:2]
    ('resnet18_fpn', 'resnet34_fpn')
    >>> detector = HEADS.get("fcos")("resnet18_fpn", num_classes=2, pretrained=False, norm="bn", image_size=128)
"""

from __future__ import annotations

import os
from typing import Any

import torch

from flash.errors import ConfigurationError, weights_unavailable
from flash.image.detection.backbones import FPN_BACKBONES, Norm, feature_strides, fpn_backbone, trunk_weights
from flash.image.detection.efficientdet import EFFICIENTDET_BACKBONES, efficientdet
from flash.registry import Registry

HEADS = Registry("detection heads")
SCORE_THRESHOLD = 0.05  # low, so that mAP sees low-confidence detections; predictions filter with `threshold`


def _sizes(image_size: int) -> dict[str, int]:
    return {"min_size": image_size, "max_size": image_size}


@HEADS.register(name="faster_rcnn", backbones=FPN_BACKBONES, background=True,
                coco_weights={"resnet50_fpn": "fasterrcnn_resnet50_fpn",
                              "mobilenet_v3_large_fpn": "fasterrcnn_mobilenet_v3_large_fpn"})
def faster_rcnn(backbone: str, *, num_classes: int, pretrained: bool | str, norm: Norm, image_size: int,
                **kwargs: Any) -> torch.nn.Module:
    """Faster R-CNN: region proposals, then per-region classes and boxes. ``num_classes`` counts the background."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    body = fpn_backbone(
        backbone, pretrained=_trunk_pretrained("faster_rcnn", backbone, pretrained), extra="pool", norm=norm
    )
    strides = feature_strides(body)
    levels = len(strides)
    if levels == 5:  # torchvision's ResNet layout: 32 px anchors at stride 4, doubling per level
        sizes: tuple[tuple[int, ...], ...] = tuple((8 * s,) for s in strides)
    else:  # torchvision's MobileNet layout: every level sees every size
        sizes = ((32, 64, 128, 256, 512),) * levels
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * levels)
    kwargs.setdefault("box_score_thresh", SCORE_THRESHOLD)
    return FasterRCNN(body, num_classes, rpn_anchor_generator=anchors, **_sizes(image_size), **kwargs)


@HEADS.register(
    name="retinanet", backbones=FPN_BACKBONES, background=False, coco_weights={"resnet50_fpn": "retinanet_resnet50_fpn"}
)
def retinanet(
    backbone: str, *, num_classes: int, pretrained: bool | str, norm: Norm, image_size: int, **kwargs: Any
) -> torch.nn.Module:
    """RetinaNet: dense anchors with a focal loss. ``num_classes`` counts foreground classes only."""
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    body = fpn_backbone(
        backbone, pretrained=_trunk_pretrained("retinanet", backbone, pretrained), extra="p6p7", norm=norm
    )
    strides = feature_strides(body)
    levels = len(strides)  # torchvision: 32 px anchors at stride 8 (x 2^(k/3)), doubling per level
    sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (4 * s for s in strides))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * levels)
    kwargs.setdefault("score_thresh", SCORE_THRESHOLD)
    return RetinaNet(body, num_classes, anchor_generator=anchors, **_sizes(image_size), **kwargs)


@HEADS.register(
    name="fcos", backbones=FPN_BACKBONES, background=False, coco_weights={"resnet50_fpn": "fcos_resnet50_fpn"}
)
def fcos(
    backbone: str, *, num_classes: int, pretrained: bool | str, norm: Norm, image_size: int, **kwargs: Any
) -> torch.nn.Module:
    """FCOS: anchor-free, one point per location. ``num_classes`` counts foreground classes only."""
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    body = fpn_backbone(backbone, pretrained=_trunk_pretrained("fcos", backbone, pretrained), extra="p6p7", norm=norm)
    strides = feature_strides(body)  # FCOS: one point per location, its size the level's stride
    anchors = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
    kwargs.setdefault("score_thresh", SCORE_THRESHOLD)
    return FCOS(body, num_classes, anchor_generator=anchors, **_sizes(image_size), **kwargs)


@HEADS.register(
    name="ssdlite",
    backbones=("mobilenet_v3_large",),
    background=True,
    coco_weights={"mobilenet_v3_large": "ssdlite320_mobilenet_v3_large"},
)
def ssdlite(
    backbone: str, *, num_classes: int, pretrained: bool | str, norm: Norm, image_size: int, **kwargs: Any
) -> torch.nn.Module:
    """SSDLite on MobileNetV3-Large; images are resized to ``image_size`` squared.

    ``num_classes`` counts the background.
    """
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    kwargs.setdefault("score_thresh", SCORE_THRESHOLD)
    trunk = trunk_weights(backbone, _trunk_pretrained("ssdlite", backbone, pretrained))
    model = ssdlite320_mobilenet_v3_large(
        weights=None,
        weights_backbone=trunk,
        num_classes=num_classes,
        trainable_backbone_layers=6 if trunk else None,
        **kwargs,
    )
    model.transform.fixed_size = (image_size, image_size)
    model.transform.min_size, model.transform.max_size = (image_size,), image_size
    return model


HEADS.register(efficientdet, name="efficientdet", backbones=EFFICIENTDET_BACKBONES, background=True, coco_weights={})


def _trunk_pretrained(head: str, backbone: str, pretrained: bool | str) -> bool | str:
    """Load ImageNet weights into the trunk only when no full COCO detector will be loaded afterwards."""
    has_coco = backbone in HEADS.metadata(head)["coco_weights"]
    return False if (pretrained is True and has_coco) else pretrained


def build_detector(
    head: str, backbone: str, *, num_classes: int, pretrained: bool | str, norm: Norm, image_size: int, **kwargs: Any
) -> torch.nn.Module:
    """Check the pair, build the detector and, for ``pretrained=True``, load COCO weights where they exist."""
    meta = HEADS.metadata(head)
    if backbone not in meta["backbones"]:
        raise ConfigurationError(
            f"The {head!r} head does not take backbone {backbone!r}. Valid backbones for {head!r}: "
            f"{', '.join(repr(b) for b in meta['backbones'])}. Received: backbone={backbone!r}")
    try:
        model = HEADS.get(head)(backbone, num_classes=num_classes, pretrained=pretrained, norm=norm,
                                image_size=image_size, **kwargs)
        if pretrained is True and backbone in meta["coco_weights"]:
            load_coco_weights(model, meta["coco_weights"][backbone])
    except OSError as err:  # URLError and friends: torchvision's weight download
        if pretrained is False:
            raise
        raise weights_unavailable(f"of the {head!r} detector on {backbone!r} (torchvision)", err,
                                  cache=os.path.join(torch.hub.get_dir(), "checkpoints"),
                                  fix="pass pretrained=False for random weights") from None
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def load_coco_weights(model: torch.nn.Module, builder: str, state: dict | None = None) -> list[str]:
    """Load a torchvision COCO detector's weights, all but the class-specific layers (their shapes differ).

    Returns the names left at their fresh initialisation (the classifier's).
    """
    if state is None:
        from torchvision.models import get_model_weights

        state = get_model_weights(builder)["DEFAULT"].get_state_dict(progress=True)
    own = model.state_dict()
    kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in kept]
    unexpected_backbone = [k for k in missing if k.startswith("backbone.")]
    if unexpected_backbone:
        raise ConfigurationError(
            f"The {builder} weights do not fit this model's backbone (first: {unexpected_backbone[0]})."
        )
    model.load_state_dict(kept, strict=False)
    return missing
