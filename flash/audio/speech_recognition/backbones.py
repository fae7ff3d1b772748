"""Speech backbones: a Hugging Face model id or local folder, or a registered tiny model.

A backbone is a ``SpeechBackbone``: the model (``AutoModelForCTC`` or
``AutoModelForSpeechSeq2Seq``), its tokenizer and its feature extractor. The registry holds
tiny random models built from configs (no download) for demos and tests, registered exactly
like real ones::

    >>> SPEECH_BACKBONES.available_keys()
    ['tiny-wav2vec2-ctc', 'tiny-whisper']

Checkpoints store the config / tokenizer / feature-extractor files as uint8 tensors
(:func:`backbone_files`), so a trained model reloads with no hub access (:func:`load_backbone`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flash.errors import CheckpointError, ConfigurationError, require
from flash.registry import Registry

SPEECH_BACKBONES = Registry("speech backbones")
DEFAULT_CHARACTERS = tuple("abcdefghijklmnopqrstuvwxyz'")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt")


@dataclass
class SpeechBackbone:
    model: Any  # a transformers PreTrainedModel with a CTC head or an encoder-decoder
    tokenizer: Any
    feature_extractor: Any

    @property
    def is_ctc(self) -> bool:
        return not self.model.config.is_encoder_decoder


def ctc_tokenizer(characters: Sequence[str], *, folder: str | os.PathLike | None = None) -> Any:
    """A ``Wav2Vec2CTCTokenizer`` over single characters (space becomes the ``|`` word delimiter).

    Example:
        >>> ctc_tokenizer("abc")("ab ba").input_ids
        [5, 6, 4, 6, 5]
    """
    transformers = require("transformers", "audio", purpose="speech recognition")
    chars = [c for c in dict.fromkeys(characters) if c not in (" ", "|")]
    bad = [c for c in chars if len(c) != 1]
    if bad:
        raise ConfigurationError(f"vocab must hold single characters. Received: vocab entries {bad[:5]!r}")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: i + 5 for i, c in enumerate(chars)}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(folder or tmp) / "vocab.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(vocab))
        return transformers.Wav2Vec2CTCTokenizer(
            str(path), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|"
        )


@SPEECH_BACKBONES.register(name="tiny-wav2vec2-ctc", kind="ctc")
def tiny_wav2vec2_ctc(
    *, vocab: Sequence[str] | None = None, hidden_size: int = 64, num_layers: int = 2
) -> SpeechBackbone:
    """A tiny random wav2vec2 CTC model (~0.2M parameters) over ``vocab`` characters: for demos and tests."""
    transformers = require("transformers", "audio", purpose="speech recognition")
    tokenizer = ctc_tokenizer(vocab or DEFAULT_CHARACTERS)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        pad_token_id=tokenizer.pad_token_id,
        ctc_loss_reduction="mean",
        mask_time_prob=0.0,
        layerdrop=0.0,
        do_stable_layer_norm=True,
        feat_extract_norm="layer",
    )
    extractor = transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    return SpeechBackbone(transformers.Wav2Vec2ForCTC(config), tokenizer, extractor)


def _whisper_tokenizer(folder: Path) -> Any:
    """A byte-level WhisperTokenizer with no merges (one token per byte) plus Whisper's special tokens."""
    transformers = require("transformers", "audio", purpose="speech recognition")
    from tokenizers.pre_tokenizers import ByteLevel

    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    vocab = {c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}
    vocab.update({s: len(vocab) + i for i, s in enumerate(specials)})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    eot = "<|endoftext|>"
    tokenizer = transformers.WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token=eot,
        bos_token=eot,
        eos_token=eot,
        pad_token=eot,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    return tokenizer


@SPEECH_BACKBONES.register(name="tiny-whisper", kind="seq2seq")
def tiny_whisper(*, chunk_length: int = 2, d_model: int = 32) -> SpeechBackbone:
    """A tiny random Whisper (byte-level vocabulary, ``chunk_length``-second windows): for tests."""
    transformers = require("transformers", "audio", purpose="speech recognition")
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _whisper_tokenizer(Path(tmp))
    extractor = transformers.WhisperFeatureExtractor(feature_size=16, chunk_length=chunk_length, sampling_rate=16000)
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=16,
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_source_positions=extractor.nb_max_frames // 2,
        max_target_positions=16,
        decoder_start_token_id=sot,
        eos_token_id=eot,
        pad_token_id=eot,
        bos_token_id=eot,
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    return SpeechBackbone(transformers.WhisperForConditionalGeneration(config), tokenizer, extractor)


def _is_seq2seq(config: Any) -> bool:
    return bool(getattr(config, "is_encoder_decoder", False))


def load_backbone(
    name: str, *, pretrained: bool = True, processor_backbone: str | None = None, vocab: Sequence[str] | None = None
) -> SpeechBackbone:
    """Resolve ``name`` (registered tiny model, hub id, or local folder) to model + tokenizer + feature extractor.

    ``pretrained=False`` builds the architecture from its config with random weights. ``vocab``
    (CTC only) replaces the tokenizer with one over those characters and gives the model a new
    output layer of that size (the usual way to fine-tune a pretrained encoder on a new alphabet).
    """
    if name in SPEECH_BACKBONES:
        kwargs = {"vocab": vocab} if vocab is not None and SPEECH_BACKBONES.metadata(name).get("kind") == "ctc" else {}
        return SPEECH_BACKBONES.get(name)(**kwargs)
    transformers = require("transformers", "audio", purpose="speech recognition")
    try:
        config = transformers.AutoConfig.from_pretrained(name)
        processor_source = processor_backbone or name
        extractor = transformers.AutoFeatureExtractor.from_pretrained(processor_source)
        tokenizer = transformers.AutoTokenizer.from_pretrained(processor_source)
    except (OSError, ValueError) as err:
        keys = ", ".join(SPEECH_BACKBONES.available_keys())
        raise ConfigurationError(
            f"Cannot load speech backbone {name!r}: {str(err).splitlines()[0]} Give a Hugging Face model id "
            f"(e.g. 'facebook/wav2vec2-base-960h', needs internet or the HF cache), a local folder saved with "
            f"save_pretrained, or a registered name ({keys}). Received: backbone={name!r}"
        ) from None
    auto = transformers.AutoModelForSpeechSeq2Seq if _is_seq2seq(config) else transformers.AutoModelForCTC
    overrides: dict[str, Any] = {}
    if vocab is not None:
        if _is_seq2seq(config):
            raise ConfigurationError(f"vocab=... applies to CTC models only; {name!r} is a sequence-to-sequence model.")
        tokenizer = ctc_tokenizer(vocab)
        overrides = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id}
    if pretrained:
        model = auto.from_pretrained(name, ignore_mismatched_sizes=bool(overrides), **overrides)
    else:
        for key, value in overrides.items():
            setattr(config, key, value)
        model = auto.from_config(config)
    return SpeechBackbone(model, tokenizer, extractor)


def backbone_files(backbone: Any) -> dict[str, torch.Tensor]:
    """The config, generation config, tokenizer and feature-extractor files as uint8 tensors (no weights).

    ``backbone``: anything with ``model``, ``tokenizer`` and ``feature_extractor`` (SpeechBackbone, SpeechRecognizer).
    """
    files: dict[str, torch.Tensor] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backbone.model.config.save_pretrained(tmp)
        generation = getattr(backbone.model, "generation_config", None)
        if generation is not None and backbone.model.can_generate():
            generation.save_pretrained(tmp)
        backbone.tokenizer.save_pretrained(tmp)
        backbone.feature_extractor.save_pretrained(tmp)
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file() and not path.name.endswith(_WEIGHT_SUFFIXES):
                data = path.read_bytes()
                files[str(path.relative_to(tmp))] = (
                    torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)
                )
    return files


def write_backbone_files(files: dict[str, torch.Tensor], folder: str | os.PathLike) -> Path:
    """Write what :func:`backbone_files` stored into ``folder`` (loadable by :func:`load_backbone`)."""
    folder = Path(folder)
    for relative, tensor in files.items():
        target = (folder / relative).resolve()
        if folder.resolve() not in target.parents:
            raise CheckpointError(f"Refusing to write checkpoint file {relative!r} outside {folder}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tensor.cpu().numpy().tobytes())
    return folder
