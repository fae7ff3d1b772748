"""Feature-pyramid backbones for the detection heads, built from torchvision.

A backbone name is ``"<trunk>_fpn"``. The trunk comes from torchvision with its ImageNet weights
when ``pretrained`` (torchvision's own weight loading, cached under ``$TORCH_HOME``), or random.
``extra`` picks what the pyramid adds on top: ``"pool"`` (one max-pooled level, Faster R-CNN) or
``"p6p7"`` (two strided convolutions, RetinaNet and FCOS).

Example:
    >>> body = fpn_backbone("resnet18_fpn", pretrained=False, extra="p6p7", norm="bn")
    >>> body.out_channels
    256
"""

from __future__ import annotations

from typing import Literal

import torch

RESNET_FPN = ("resnet18_fpn", "resnet34_fpn", "resnet50_fpn", "resnet101_fpn")
MOBILENET_FPN = ("mobilenet_v3_large_fpn", "mobilenet_v3_small_fpn", "mobilenet_v2_fpn")
FPN_BACKBONES = RESNET_FPN + MOBILENET_FPN
Norm = Literal["frozen_bn", "bn"]


def norm_layer(norm: Norm):
    """``"frozen_bn"`` (statistics fixed, the detection default for pretrained trunks) or ``"bn"``."""
    from torchvision.ops import FrozenBatchNorm2d

    return FrozenBatchNorm2d if norm == "frozen_bn" else torch.nn.BatchNorm2d


def trunk_weights(name: str, pretrained: bool | str):
    """``True`` -> the trunk's ``DEFAULT`` ImageNet weights; a string -> that tag (``"IMAGENET1K_V1"``)."""
    if not pretrained:
        return None
    from torchvision.models import get_model_weights

    tag = "DEFAULT" if pretrained is True else str(pretrained)
    return get_model_weights(name)[tag]


def fpn_backbone(name: str, *, pretrained: bool | str, extra: Literal["pool", "p6p7"], norm: Norm) -> torch.nn.Module:
    """A ``BackboneWithFPN`` (``.body`` the trunk, ``.fpn`` the pyramid, ``.out_channels`` 256).

    ``(B, 3, H, W) -> {level: (B, 256, H / stride, W / stride)}`` for 3 to 5 levels.
    """
    from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

    trunk = name[: -len("_fpn")]
    weights = trunk_weights(trunk, pretrained)
    extra_blocks = LastLevelMaxPool() if extra == "pool" else LastLevelP6P7(256, 256)
    if name in RESNET_FPN:
        returned = [1, 2, 3, 4] if extra == "pool" else [2, 3, 4]
        backbone = resnet_fpn_backbone(backbone_name=trunk, weights=weights, norm_layer=norm_layer(norm),
                                       trainable_layers=5, returned_layers=returned, extra_blocks=extra_blocks)
    elif name == "mobilenet_v2_fpn":
        backbone = _mobilenet_v2_fpn(weights, norm=norm, extra_blocks=extra_blocks)
    else:
        backbone = mobilenet_backbone(backbone_name=trunk, weights=weights, fpn=True, norm_layer=norm_layer(norm),
                                      trainable_layers=0, extra_blocks=extra_blocks)
    for parameter in backbone.parameters():  # torchvision freezes early stages; flash's finetuning strategies decide
        parameter.requires_grad_(True)
    return backbone


def _mobilenet_v2_fpn(weights, *, norm: Norm, extra_blocks) -> torch.nn.Module:
    """MobileNetV2's features at strides 8, 16 and 32 under an FPN (torchvision has no builder for it)."""
    from torchvision.models import mobilenet_v2
    from torchvision.models.detection.backbone_utils import BackboneWithFPN

    features = mobilenet_v2(weights=weights, norm_layer=norm_layer(norm)).features
    return_layers = {"6": "0", "13": "1", "18": "2"}  # stride 8 (32 ch), 16 (96 ch), 32 (1280 ch)
    return BackboneWithFPN(features, return_layers, [32, 96, 1280], 256, extra_blocks=extra_blocks, norm_layer=None)


def feature_strides(backbone: torch.nn.Module) -> list[int]:
    """The stride of each feature map the backbone returns (measured on a 256 px input), finest first."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        features = backbone(torch.zeros(1, 3, 256, 256))
    backbone.train(was_training)
    return [256 // f.shape[-1] for f in features.values()]
