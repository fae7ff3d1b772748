"""Which convolutional backbones run faster with channels-last activations, and switching them over.

Measured on 2 CPU cores (torch 2.14, batch 32, 96 px; time channels-last / time contiguous, lower is better):

====================== ============== ============ ==========
backbone               frozen + head  full training predict
====================== ============== ============ ==========
torchvision MobileNetV2 0.64          0.77         -
timm efficientnet_b0   0.78           0.72         0.77
timm mobilenetv3_large 0.84           0.79         0.74-1.01
timm resnet18          0.86           **1.34**     0.99
timm convnext_atto     0.93           1.05         0.80-1.06
====================== ============== ============ ==========

So channels-last is on by default only for depthwise-separable networks with BatchNorm (the MobileNet and
EfficientNet families, where oneDNN's depthwise kernels want it), and off for plain convolutions (ResNet:
34 % slower to train) and LayerNorm networks (ConvNeXt: no steady gain). ``ImageClassifier(channels_last=...)``
overrides the choice. Weights and outputs are the same either way (to float rounding).
"""

from __future__ import annotations

import torch
from torch import nn


def prefers_channels_last(module: nn.Module) -> bool:
    """Whether ``module`` is a depthwise-separable BatchNorm network (no LayerNorm: ConvNeXt, MobileViT)."""
    kinds = [type(m) for m in module.modules()]
    depthwise = any(isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels for m in module.modules())
    batch_norm = any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds)
    layer_norm = any(issubclass(k, nn.LayerNorm) for k in kinds)
    return depthwise and batch_norm and not layer_norm


def to_channels_last(module: nn.Module) -> nn.Module:
    """Store ``module``'s 4-D weights channels-last (in place); its inputs must be converted too (see ``as_layout``)."""
    return module.to(memory_format=torch.channels_last)


def as_layout(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """A ``(B, C, H, W)`` batch in the layout the backbone runs fastest with (a no-op when already so)."""
    if channels_last and images.ndim == 4:
        return images.contiguous(memory_format=torch.channels_last)
    return images
