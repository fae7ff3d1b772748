"""Segmentation heads and encoders: segmentation-models-pytorch's, timm's (through smp's universal encoders) and
torchvision's own segmentation models, in flash's one ``Registry`` class.

- ``SEGMENTATION_HEADS``: ``"unet"``, ``"fpn"``, ``"deeplabv3plus"``, ... (segmentation-models-pytorch) and
  ``"torchvision:deeplabv3"``, ``"torchvision:lraspp"``, ``"torchvision:fcn"`` (their backbones are fixed:
  see the entry's metadata).
- ``SEGMENTATION_BACKBONES``: every smp encoder (``"resnet34"``, ``"efficientnet-b0"``, ``"mit_b0"``, ...),
  ``"tu-<timm model>"`` (smp's universal encoder) and, like Lightning Flash, plain timm names
  (``"mobilenetv3_large_100"`` is ``"tu-mobilenetv3_large_100"``).

Pretrained weights are read from the local caches only (Hugging Face hub cache, torch hub checkpoints): a
model is never built while downloading, so an offline machine fails at once with the file to provide.

Example:
    >>> SEGMENTATION_HEADS.metadata("torchvision:lraspp")["backbones"]
    {'mobilenet_v3_large': 'lraspp_mobilenet_v3_large'}
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from flash.errors import ConfigurationError, FlashError, require
from flash.registry import Provider, Registry

SEGMENTATION_HEADS = Registry("segmentation head")
SEGMENTATION_BACKBONES = Registry("segmentation backbone")

SMP_HEADS = {"unet": "Unet", "unetplusplus": "UnetPlusPlus", "fpn": "FPN", "deeplabv3": "DeepLabV3",
             "deeplabv3plus": "DeepLabV3Plus", "pspnet": "PSPNet", "linknet": "Linknet", "pan": "PAN",
             "manet": "MAnet", "upernet": "UPerNet", "segformer": "Segformer"}
TORCHVISION_HEADS = {
    "deeplabv3": {"resnet50": "deeplabv3_resnet50", "resnet101": "deeplabv3_resnet101",
                  "mobilenet_v3_large": "deeplabv3_mobilenet_v3_large"},
    "lraspp": {"mobilenet_v3_large": "lraspp_mobilenet_v3_large"},
    "fcn": {"resnet50": "fcn_resnet50", "resnet101": "fcn_resnet101"},
}


@dataclass(frozen=True)
class Encoder:
    """An encoder as segmentation-models-pytorch names it, and the weights to load (None: random)."""

    name: str
    weights: Any = None


class WeightsNotCached(FlashError, OSError):
    """A library tried to download weights while flash builds a model from the local caches only."""


# ---------------------------------------------------------------------------------------- offline guard
def hf_cache() -> str:
    return os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub")


def torch_cache() -> str:
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def _refuse(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
    raise WeightsNotCached(f"'{os.path.basename(dst)}' is not in '{os.path.dirname(dst)}' (it comes from {url})")


@contextlib.contextmanager
def cached_weights_only() -> Iterator[None]:
    """Within the block, the Hugging Face hub runs offline and torch/timm URL downloads raise at once."""
    import huggingface_hub.constants as hf_constants

    patched: list[tuple[Any, str, Any]] = []
    targets: list[Any] = [torch.hub]
    with contextlib.suppress(ImportError):
        import timm.models._hub as timm_hub

        targets.append(timm_hub)
    for module in targets:
        if hasattr(module, "download_url_to_file"):
            patched.append((module, "download_url_to_file", module.download_url_to_file))
            module.download_url_to_file = _refuse
    patched.append((hf_constants, "HF_HUB_OFFLINE", hf_constants.HF_HUB_OFFLINE))
    hf_constants.HF_HUB_OFFLINE = True
    previous_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        for module, name, value in reversed(patched):
            setattr(module, name, value)
        if previous_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_env


def weights_not_cached(what: str, err: BaseException, *, pretrained: Any) -> ConfigurationError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return ConfigurationError(
        f"The pretrained weights of {what} are not in the local caches ({type(err).__name__}: {reason[:300]}). "
        f"flash reads weights from the Hugging Face cache ('{hf_cache()}') and the torch hub cache "
        f"('{torch_cache()}') and never downloads while building a model. Copy the weights there (download them "
        "once on a machine with internet, e.g. with the same code), or pass pretrained=False for random weights. "
        f"Received: pretrained={pretrained!r}")


# ---------------------------------------------------------------------------------------- encoders
def _smp_encoders() -> dict[str, Any]:
    require("segmentation_models_pytorch", "image", purpose="segmentation models")
    from segmentation_models_pytorch.encoders import encoders

    return encoders


def _timm_is_model(name: str) -> bool:
    try:
        import timm
    except ImportError:
        return False
    return timm.is_model(name)


def _smp_encoder(name: str) -> Callable[..., Encoder]:
    def build(*, pretrained: bool | str = True) -> Encoder:
        if name.startswith("tu-"):
            return Encoder(name, True if pretrained else None)
        settings = _smp_encoders()[name]["pretrained_settings"]
        if pretrained is True:
            weights = "imagenet" if "imagenet" in settings else next(iter(settings), None)
        elif isinstance(pretrained, str):
            if pretrained not in settings:
                raise ConfigurationError(f"Encoder {name!r} has no weights {pretrained!r}. Its weights: "
                                         f"{', '.join(settings) or 'none'}. Received: pretrained={pretrained!r}")
            weights = pretrained
        else:
            weights = None
        return Encoder(name, weights)

    return build


def _smp_has(name: str) -> bool:
    try:
        encoders = _smp_encoders()
    except ImportError:
        return False
    if name.startswith("tu-"):
        return _timm_is_model(name[3:].partition(".")[0])
    return name in encoders


def _smp_list() -> list[str]:
    return sorted(_smp_encoders())


def _timm_list() -> list[str]:
    import timm

    own = set(_smp_encoders())  # names smp has too resolve to smp's encoder first: list them once
    return [name for name in timm.list_models() if name not in own]


SEGMENTATION_BACKBONES.add_provider(Provider("smp", _smp_encoder, _smp_list, _smp_has, default=True))
SEGMENTATION_BACKBONES.add_provider(Provider("timm", lambda key: _smp_encoder(f"tu-{key}"), _timm_list,
                                             lambda key: _timm_is_model(key.partition(".")[0]), default=True))


# ---------------------------------------------------------------------------------------- heads
def _smp_head(arch: str) -> Callable[..., torch.nn.Module]:
    def build(encoder: Encoder, *, num_classes: int, **head_kwargs: Any) -> torch.nn.Module:
        smp = require("segmentation_models_pytorch", "image", purpose="segmentation models")
        model_cls = getattr(smp, arch)
        return model_cls(encoder_name=encoder.name, encoder_weights=encoder.weights, classes=num_classes,
                         **head_kwargs)

    return build


for _key, _arch in SMP_HEADS.items():
    SEGMENTATION_HEADS.register(_smp_head(_arch), name=_key, provider="smp", arch=_arch, backbones=None)


class TorchvisionSegmentation(torch.nn.Module):
    """A torchvision segmentation model whose forward returns the ``"out"`` logits tensor."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.encoder = model.backbone  # what freezing freezes, as for smp models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _torchvision_head(head: str) -> Callable[..., torch.nn.Module]:
    def build(encoder: Encoder, *, num_classes: int, **head_kwargs: Any) -> torch.nn.Module:
        from torchvision import models

        builder = getattr(models.segmentation, TORCHVISION_HEADS[head][encoder.name])
        kwargs: dict[str, Any] = {"aux_loss": False} if head != "lraspp" else {}
        model = builder(weights=None, weights_backbone="DEFAULT" if encoder.weights else None,
                        num_classes=num_classes, **kwargs, **head_kwargs)
        return TorchvisionSegmentation(model)

    return build


for _key, _backbones in TORCHVISION_HEADS.items():
    SEGMENTATION_HEADS.register(_torchvision_head(_key), name=f"torchvision:{_key}", provider="torchvision",
                                backbones=dict(_backbones))


def build_network(head: str, backbone: str, *, num_classes: int, pretrained: bool | str,
                  **head_kwargs: Any) -> torch.nn.Module:
    """Resolve ``head`` and ``backbone`` (close matches on a typo) and build the network, weights from caches only."""
    try:
        meta = SEGMENTATION_HEADS.metadata(head)
    except ConfigurationError as err:
        raise ConfigurationError(str(err).replace("See available_keys()", "See SemanticSegmentation."
                                                  "available_heads()")) from None
    fixed = meta.get("backbones")
    if fixed is not None:
        if backbone not in fixed:
            raise ConfigurationError(f"The {head!r} head takes the backbones {', '.join(repr(b) for b in fixed)}. "
                                     f"Received: backbone={backbone!r}")
        encoder = Encoder(backbone, bool(pretrained))
    else:
        try:
            factory = SEGMENTATION_BACKBONES.get(backbone)
        except ConfigurationError as err:
            raise ConfigurationError(str(err).replace("See available_keys()", "See SemanticSegmentation."
                                                      "available_backbones()")) from None
        encoder = factory(pretrained=pretrained)
    try:
        with cached_weights_only():
            return SEGMENTATION_HEADS.get(head)(encoder, num_classes=num_classes, **head_kwargs)
    except (OSError, RuntimeError, ValueError) as err:
        if not encoder.weights or isinstance(err, ConfigurationError):
            raise
        raise weights_not_cached(f"the {backbone!r} encoder ({head!r} head)", err, pretrained=pretrained) from None
