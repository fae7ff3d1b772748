"""What a speech model reads and learns from: rates, durations, input features and label ids.

Padded waveforms at any rate are resampled to the feature extractor's rate, run through it
(normalisation / log-mel), and transcripts become label ids padded with -100. Over-long clips and
clips too short for their transcript (CTC) are errors naming the file.

Example:
    >>> features = model.features(batch["input"], batch["metadata"])  # doctest: +SKIP
    >>> labels = model.label_ids(batch["target"], batch["metadata"], features)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from flash.errors import ConfigurationError, DataError

DEFAULT_CTC_MAX_DURATION = 60.0


def resolve_sampling_rate(feature_extractor: Any, requested: int | None, *, backbone: str) -> int:
    """The rate the model works at: its feature extractor's; another ``requested`` rate is an error."""
    native = getattr(feature_extractor, "sampling_rate", None)
    if requested is not None and native is not None and int(requested) != int(native):
        raise ConfigurationError(
            f"The feature extractor of {backbone!r} works at {native} Hz; audio at other rates is "
            f"resampled to it automatically. Leave sampling_rate=None. Received: sampling_rate={requested!r}"
        )
    return int(requested or native or 16000)


def window_seconds(feature_extractor: Any, sampling_rate: int) -> float | None:
    """The fixed input window of a Whisper-style feature extractor in seconds (None: any length)."""
    window = getattr(feature_extractor, "n_samples", None)
    return window / sampling_rate if window else None


def resolve_max_duration(
    feature_extractor: Any, requested: float | None, *, sampling_rate: int, backbone: str
) -> float:
    """Longest clip in seconds: ``requested``, else the model's window, else 60 s (CTC)."""
    window_s = window_seconds(feature_extractor, sampling_rate)
    if window_s is not None and requested is not None and requested > window_s:
        raise ConfigurationError(
            f"{backbone!r} reads at most {window_s:g} s of audio at a time. Split longer clips. "
            f"Received: max_duration={requested!r}"
        )
    return float(requested or window_s or DEFAULT_CTC_MAX_DURATION)


def check_durations(lengths: Sequence[int], rate: int, metadata: Sequence[dict], *, max_duration: float,
                    ctc: bool) -> None:
    """Raise a ``DataError`` naming the first clip longer than ``max_duration`` seconds."""
    for length, meta in zip(lengths, metadata):
        if length / rate > max_duration + 1e-6:
            raise DataError(
                f"Audio {clip_name(meta)} is {length / rate:.1f} s long, but this model trains and evaluates on at "
                f"most {max_duration:g} s (max_duration; prediction reads longer audio in windows). Split the "
                "recording into shorter clips" + (" or raise max_duration." if ctc else "."))


def extract(feature_extractor: Any, clips: list, *, sampling_rate: int, device: Any) -> dict[str, torch.Tensor]:
    """Waveforms (NumPy, at ``sampling_rate``) -> the model's input features, padded, on ``device``."""
    kwargs: dict[str, Any] = {} if getattr(feature_extractor, "n_samples", None) else {"padding": True}
    if getattr(feature_extractor, "return_attention_mask", False):
        kwargs["return_attention_mask"] = True
    features = feature_extractor(clips, sampling_rate=sampling_rate, return_tensors="pt", **kwargs)
    return {key: value.to(device) for key, value in features.items()}


def output_lengths(model: Any, features: dict) -> torch.Tensor | None:
    """Output frames per clip of a CTC ``model`` for ``features`` (None if the model cannot say)."""
    mask = features.get("attention_mask")
    lengths_of = getattr(model, "_get_feat_extract_output_lengths", None)
    if lengths_of is None:
        return None
    first = next(iter(features.values()))
    samples = mask.sum(-1) if mask is not None else torch.full((first.shape[0],), first.shape[-1])
    return lengths_of(samples.cpu())


def pad_labels(ids: list[list[int]]) -> torch.Tensor:
    """Rows of token ids -> ``(B, longest)`` long tensor padded with -100 (ignored by the loss)."""
    labels = torch.full((len(ids), max(1, max(len(r) for r in ids))), -100, dtype=torch.long)
    for i, row in enumerate(ids):
        labels[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return labels


def check_ctc_lengths(ids: list[list[int]], texts: list[str], metadata: list[dict],
                      frames: torch.Tensor | None) -> None:
    """Raise a ``DataError`` naming a clip whose ``frames`` cannot hold its transcript's CTC alignment."""
    if frames is None:
        return
    for row, text, meta, available in zip(ids, texts, metadata, frames.tolist()):
        needed = len(row) + sum(1 for a, b in zip(row, row[1:]) if a == b)  # repeats need a blank between them
        if needed > available:
            raise DataError(
                f"Audio {clip_name(meta)} is too short for its transcript {text!r}: CTC needs {needed} output frames, "
                f"the model makes {available} from this clip. Check that audio and transcript belong together."
            )


def clip_name(meta: dict) -> str:
    """How an error names a clip: its file, its row, or its place in the batch."""
    if "filepath" in meta:
        return f"'{meta['filepath']}'"
    return f"row {meta['row']}" if "row" in meta else "in the batch"
