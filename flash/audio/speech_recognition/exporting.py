"""What ``flash export`` writes for a speech recognizer (the entry's ``export`` adapter).

CTC models (wav2vec2, HuBERT, ...): ``input_values (B, S)`` (+ ``attention_mask``) -> ``logits (B, F, V)`` and
``frames (B,)`` (valid frames per clip); greedy CTC decoding runs outside the graph. The metadata stores the
sampling rate, ``max_duration``, the input names and the tokenizer / feature-extractor files. Whisper and other
encoder-decoders are refused: their autoregressive ``generate`` loop is not one graph.
"""

from __future__ import annotations

from typing import Any

import torch

from flash.core.exporting import ExportSpec, encode_files
from flash.errors import ConfigurationError


class CTCLogits(torch.nn.Module):
    """Feature-extracted audio -> CTC logits and the number of valid frames per clip."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None):
        logits = self.model(input_values=input_values, attention_mask=attention_mask).logits  # (B, F, V)
        samples = attention_mask.sum(-1) if attention_mask is not None else torch.full_like(
            input_values[:, 0], input_values.shape[1], dtype=torch.long)
        frames = self.model._get_feat_extract_output_lengths(samples)  # (B,)
        return logits, frames


def export_spec(model: Any) -> ExportSpec:
    """The CTC model traced on two clips of different lengths; a sequence-to-sequence model says what to do."""
    from flash.audio.speech_recognition.backbones import backbone_files

    if not model.is_ctc:
        raise ConfigurationError(
            f"{model.hparams.get('backbone')!r} is a sequence-to-sequence (Whisper-style) model, which cannot be "
            "exported yet: its autoregressive generate() loop is not one graph. Serve the checkpoint instead "
            "(flash serve --checkpoint model.pt), or export encoder and decoder with Hugging Face Optimum "
            "(optimum-cli export onnx). CTC models (wav2vec2, HuBERT, ...) export fully.")
    rate = model.sampling_rate
    features = model.feature_extractor([torch.randn(rate // 2).numpy(), torch.randn(rate // 4).numpy()],
                                       sampling_rate=rate, return_tensors="pt", padding=True)
    names = [n for n in ("input_values", "attention_mask") if n in features]
    metadata = {"sampling_rate": rate, "max_duration": model.max_duration, "input_names": names,
                "files": encode_files(backbone_files(model))}
    axes = {name: {0: "batch", 1: "samples"} for name in names}
    example = tuple(features[n].long() if n == "attention_mask" else features[n] for n in names)  # int64 masks
    return ExportSpec(CTCLogits(model.model), example, names, ["logits", "frames"],
                      {**axes, "logits": {0: "batch", 1: "frames"}, "frames": {0: "batch"}}, metadata)
