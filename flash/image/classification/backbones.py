"""Image classification backbones: one ``Registry`` answered by timm, torchvision and local folders.

Every factory has the signature ``factory(*, pretrained=True, **kwargs) -> Backbone`` where
``Backbone`` holds the feature extractor (``(B, 3, H, W) -> (B, num_features)``), its
``num_features`` and its data config (``image_size``, ``mean``, ``std``) for the transforms.

Names:
- ``"resnet18"`` or ``"timm:convnext_tiny"``: any timm model (the default provider);
- ``"mobilenet_v2"`` (a name timm lacks) or ``"torchvision:mobilenet_v2"``: any torchvision classification
  model, with its DEFAULT weights, or
  named weights with a tag: ``"torchvision:mobilenet_v2.imagenet1k_v1"``;
- ``"path/to/folder"``: a folder with a timm-style ``config.json`` (``{"architecture": ...}``)
  and ``model.safetensors`` / ``pytorch_model.bin`` / ``*.pth`` weights.

``pretrained`` is ``True`` (each provider's own loading path: timm's hub/cache, torchvision's
``weights="DEFAULT"``), ``False`` (random init) or the path of a ``.pth``/``.safetensors`` file.

Example:
    >>> from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES
    >>> backbone = IMAGE_CLASSIFIER_BACKBONES.get("resnet18")(pretrained=False)
    >>> backbone.num_features
    512
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from flash.errors import ConfigurationError, require, weights_unavailable
from flash.registry import Provider, Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.pt")

IMAGE_CLASSIFIER_BACKBONES = Registry("backbone")


@dataclass
class Backbone:
    """What a backbone factory returns."""

    module: torch.nn.Module
    num_features: int
    data_config: dict[str, Any] = field(default_factory=dict)  # image_size (h, w), mean, std


def _weights_path(pretrained: Any) -> str | None:
    return os.fspath(pretrained) if isinstance(pretrained, (str, os.PathLike)) else None


# ---------------------------------------------------------------------------------------- weight files
def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or ``.pth``/``.bin`` file (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"Weights file '{path}' does not exist. Pass an existing .pth or .safetensors file.")
    try:
        if path.suffix == ".safetensors":
            safetensors = require("safetensors.torch", "image", purpose="reading .safetensors weights")
            state = safetensors.load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch/safetensors raise many types for bad files
        raise ConfigurationError(f"Cannot read weights file '{path}': {err}") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ConfigurationError(f"Weights file '{path}' holds a {type(state).__name__}, not a state dict of tensors.")
    return state


def load_weights_file(module: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a weights file into ``module``; the original classifier's keys are ignored, missing keys are an error."""
    state = read_state_dict(path)
    own = module.state_dict()
    for prefix in ("module.", "model.", "backbone."):
        if own and not any(k in own for k in state) and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    state = {k: v for k, v in state.items() if k in own}
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise ConfigurationError(
            f"Weights file '{path}' does not match the backbone: {len(missing)} parameter(s) missing, e.g. "
            f"{missing[:3]}. Check that the file was saved from the same architecture."
        )
    mismatched = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}" for k, v in state.items()
                  if tuple(v.shape) != tuple(own[k].shape)]
    if mismatched:
        raise ConfigurationError(
            f"Weights file '{path}' does not match the backbone: {len(mismatched)} tensor(s) have other shapes, e.g. "
            f"{'; '.join(mismatched[:3])}. Check that the file was saved from the same architecture."
        )
    module.load_state_dict(state, strict=False)


def _hf_cache() -> str:
    return os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub")


def _torch_cache() -> str:
    return os.path.join(torch.hub.get_dir(), "checkpoints")


# ---------------------------------------------------------------------------------------- timm
def _timm_factory(name: str) -> Callable[..., Backbone]:
    def build(*, pretrained: Any = True, **kwargs: Any) -> Backbone:
        timm = require("timm", "image", purpose=f"the backbone {name!r}")
        from timm.data import resolve_data_config

        try:
            module = timm.create_model(name, pretrained=pretrained is True, num_classes=0, **kwargs)
        except (OSError, RuntimeError, ValueError) as err:  # URLError, LocalEntryNotFoundError, HTTP errors
            if pretrained is not True:
                raise
            raise weights_unavailable(f"of timm model {name!r}", err, cache=_hf_cache(),
                                      fix="pass pretrained='path/to/weights.safetensors' (or .pth), or "
                                          "pretrained=False for random weights") from None
        if _weights_path(pretrained):
            load_weights_file(module, pretrained)
        config = resolve_data_config({}, model=module)
        data_config = {"image_size": tuple(config["input_size"][1:]), "mean": tuple(config["mean"]),
                       "std": tuple(config["std"])}
        # MobileNetV3 and the like pool, then widen with a conv head: the output is head_hidden_size wide
        width = getattr(module, "head_hidden_size", None) or module.num_features
        return Backbone(module, int(width), data_config)

    return build


def _timm_has(name: str) -> bool:
    try:
        import timm
    except ImportError:
        return False
    return timm.is_model(name)


def _timm_list() -> list[str]:
    import timm

    return timm.list_models()


# ---------------------------------------------------------------------------------------- torchvision
def _strip_classifier(model: torch.nn.Module) -> int:
    """Replace the final classification layer with Identity; return its input width."""
    for attr in ("fc", "classifier", "heads", "head"):
        holder = getattr(model, attr, None)
        if holder is None:
            continue
        if isinstance(holder, (torch.nn.Linear, torch.nn.Conv2d)):
            setattr(model, attr, torch.nn.Identity())
            return holder.in_features if isinstance(holder, torch.nn.Linear) else holder.in_channels
        layers = [(n, m) for n, m in holder.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        if layers:
            name, layer = layers[-1]
            parent = holder.get_submodule(name.rpartition(".")[0]) if "." in name else holder
            setattr(parent, name.rpartition(".")[2], torch.nn.Identity())
            return layer.in_features if isinstance(layer, torch.nn.Linear) else layer.in_channels
    raise ConfigurationError(f"Cannot find the classifier of torchvision model {type(model).__name__} to remove it.")


def _torchvision_weights(name: str) -> tuple[str, Any, Any]:
    """``"mobilenet_v2.imagenet1k_v1"`` -> (architecture, weights enum, the tagged weights or None)."""
    import torchvision

    architecture, _, tag = name.partition(".")
    weights_enum = torchvision.models.get_model_weights(architecture)
    tagged = weights_enum[tag.upper()] if tag else None
    return architecture, weights_enum, tagged


def _torchvision_factory(name: str) -> Callable[..., Backbone]:
    def build(*, pretrained: Any = True, **kwargs: Any) -> Backbone:
        torchvision = require("torchvision", "image", purpose=f"the backbone 'torchvision:{name}'")
        architecture, weights_enum, tagged = _torchvision_weights(name)
        chosen = tagged or weights_enum.DEFAULT
        if architecture in ("inception_v3", "googlenet"):
            kwargs.setdefault("aux_logits", False)  # one output tensor, not (logits, aux_logits)
        try:
            weights = chosen if pretrained is True else None
            module = torchvision.models.get_model(architecture, weights=weights, **kwargs)
        except (OSError, RuntimeError) as err:  # URLError and friends
            if pretrained is not True:
                raise
            raise weights_unavailable(f"{chosen} of torchvision's {architecture!r}", err, cache=_torch_cache(),
                                      fix="pass pretrained='path/to/weights.pth', or pretrained=False") from None
        num_features = _strip_classifier(module)
        if _weights_path(pretrained):
            load_weights_file(module, pretrained)
        preset = chosen.transforms()
        size = preset.crop_size[0] if isinstance(preset.crop_size, (list, tuple)) else preset.crop_size
        data_config = {"image_size": (int(size), int(size)), "mean": tuple(preset.mean), "std": tuple(preset.std)}
        return Backbone(module, num_features, data_config)

    return build


def _torchvision_list() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def _torchvision_has(name: str) -> bool:
    try:
        if name.partition(".")[0] not in _torchvision_list():
            return False
        _torchvision_weights(name)
        return True
    except (ImportError, KeyError):
        return False


# ---------------------------------------------------------------------------------------- local folders
def _folder_weights(folder: Path) -> Path:
    for candidate in WEIGHT_FILES:
        if (folder / candidate).is_file():
            return folder / candidate
    found = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".pth", ".pt", ".bin"))
    if not found:
        raise ConfigurationError(f"Backbone folder '{folder}' has no weights file (expected one of {WEIGHT_FILES}).")
    return found[0]


def _folder_factory(path: str) -> Callable[..., Backbone]:
    def build(*, pretrained: Any = True, **kwargs: Any) -> Backbone:
        folder = Path(path)
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise ConfigurationError(f"Backbone folder '{folder}' has no config.json naming its architecture "
                                     '(e.g. {"architecture": "resnet18"}).')
        config = json.loads(config_file.read_text())
        architecture = config.get("architecture")
        if not architecture:
            raise ConfigurationError(f"'{config_file}' has no \"architecture\" entry. Received keys: {sorted(config)}")
        weights = pretrained if _weights_path(pretrained) else (_folder_weights(folder) if pretrained else False)
        model_args = {**config.get("model_args", {}), **kwargs}
        backbone = IMAGE_CLASSIFIER_BACKBONES.get(architecture)(pretrained=weights, **model_args)
        overrides = config.get("pretrained_cfg", {})
        if "input_size" in overrides:
            backbone.data_config["image_size"] = tuple(overrides["input_size"][-2:])
        for key in ("mean", "std"):
            if key in overrides:
                backbone.data_config[key] = tuple(overrides[key])
        return backbone

    return build


def _is_folder(name: str) -> bool:
    return os.path.isdir(name) and os.path.isfile(os.path.join(name, "config.json"))


IMAGE_CLASSIFIER_BACKBONES.add_provider(Provider("timm", _timm_factory, _timm_list, _timm_has, default=True))
# Un-prefixed names: timm first, then torchvision (``"mobilenet_v2"``, which timm spells ``mobilenetv2_100``), as
# Lightning Flash's registry did; ``"timm:"`` / ``"torchvision:"`` pick one explicitly.
IMAGE_CLASSIFIER_BACKBONES.add_provider(
    Provider("torchvision", _torchvision_factory, _torchvision_list, _torchvision_has, default=True))
IMAGE_CLASSIFIER_BACKBONES.add_provider(Provider("folder", _folder_factory, list, _is_folder, default=True))


def pretrained_weights(name: str) -> list[str]:
    """The weight tags ``name`` can load: timm's (``"a1_in1k"``, use ``"resnet18.a1_in1k"``) or torchvision's
    (``"IMAGENET1K_V1"``); empty for registered and folder backbones.

    Example:
        >>> pretrained_weights("torchvision:mobilenet_v2")
        ['IMAGENET1K_V1', 'IMAGENET1K_V2']
    """
    provider = IMAGE_CLASSIFIER_BACKBONES.metadata(name).get("provider")
    key = name.partition(":")[2] if ":" in name else name
    if provider == "timm":
        import timm

        return [tag.partition(".")[2] for tag in timm.list_pretrained(f"{key.partition('.')[0]}.*")]
    if provider == "torchvision":
        from torchvision.models import get_model_weights

        return [weights.name for weights in get_model_weights(key.partition(".")[0])]
    return []
