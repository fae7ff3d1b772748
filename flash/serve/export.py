"""Export any flash task's inference model to ONNX or TorchScript, with what preprocessing needs inside.

What each task exports (inputs -> outputs; ``B`` batch, ``T`` tokens, ``S`` samples, ``F`` frames):

* image classification: ``input (B, 3, H, W)`` normalized -> ``logits (B, C)``; dynamic batch.
* text classification: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them)
  ``(B, T)`` -> ``logits (B, C)``: the encoder, mean pooling and head; dynamic batch and sequence.
* object detection (torchvision detectors): one ``image (3, H, W)`` in [0, 1] -> ``boxes (N, 4)``, ``labels (N,)``,
  ``scores (N,)`` in the pixels of the image given; resizing/normalising inside the graph as in torchvision.
* speech recognition, CTC models (wav2vec2, HuBERT, ...): ``input_values (B, S)`` (+ ``attention_mask``) ->
  ``logits (B, F, V)`` and ``frames (B,)``; greedy CTC decoding runs outside. Whisper and other
  encoder-decoders are not exported: their autoregressive ``generate`` loop is not one graph.

The metadata (task, labels, image size and normalisation, tokenizer / feature-extractor files, sampling rate)
is stored in the file itself: ONNX ``metadata_props["flash"]``, TorchScript extra file ``flash.json``. Read it
with :func:`read_metadata`; :class:`~flash.serve.onnx.OnnxPredictor` runs the ONNX file with it.

Example:
    >>> from flash.serve import export
    >>> export(model, "model.onnx", fmt="onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from flash.errors import ConfigurationError, require
from flash.serve.predictors import TASK_OF_CLASS, task_of

METADATA_KEY = "flash"
FORMAT_VERSION = 1


@dataclass
class ExportSpec:
    """What to trace: a module, example inputs, names, dynamic axes and the metadata to store."""

    module: torch.nn.Module
    args: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, Any] = field(default_factory=dict)
    script: bool = False  # TorchScript by scripting (control flow that depends on data) instead of tracing


def example_input(model: torch.nn.Module) -> torch.Tensor:
    """The model's example input (image classifiers), or a clear error for modules flash cannot export."""
    make = getattr(model, "example_input", None)
    if not callable(make):
        raise ConfigurationError(
            f"{type(model).__name__} cannot be exported yet: flash exports its tasks "
            f"({', '.join(TASK_OF_CLASS)}). Received: a {type(model).__name__}")
    return make()


# ---------------------------------------------------------------------------------------- per task
class _Logits(torch.nn.Module):
    """``task(x)`` for a task whose forward takes one tensor (image classification)."""

    def __init__(self, task: torch.nn.Module) -> None:
        super().__init__()
        self.task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task(x)


class _TextLogits(torch.nn.Module):
    """Positional token tensors -> the text classifier's logits (its forward takes a dict)."""

    def __init__(self, task: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.task, self.names = task, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.task(dict(zip(self.names, tensors)))


class _Detections(torch.nn.Module):
    """One image -> its detections as three tensors (torchvision detectors take and return lists)."""

    def __init__(self, detector: torch.nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.detector([image])
        detections = out[1][0] if isinstance(out, tuple) else out[0]  # scripted detectors return (losses, detections)
        return detections["boxes"], detections["labels"], detections["scores"]


class _CTCLogits(torch.nn.Module):
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


def _labels(model: Any) -> list | None:
    labels = getattr(model, "labels", None)
    return [label if isinstance(label, (str, int, float)) else str(label) for label in labels] if labels else None


def _image_classification(model: Any) -> ExportSpec:
    settings = model.input_transform.settings()
    meta = {"labels": _labels(model), "multi_label": bool(model.multi_label),
            "transform": {"image_size": list(settings["image_size"]), "mean": list(settings["mean"]),
                          "std": list(settings["std"])}}
    return ExportSpec(_Logits(model), (example_input(model),), ["input"], ["logits"],
                      {"input": {0: "batch"}, "logits": {0: "batch"}}, meta)


def _text_classification(model: Any) -> ExportSpec:
    from flash.text.classification.backbones import backbone_files

    encoded = model.tokenizer(["an example text to trace", "short"], padding="longest", return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in encoded]
    meta = {"labels": _labels(model), "multi_label": bool(model.multi_label), "max_length": model.max_length,
            "input_names": names, "files": _files(backbone_files(model.backbone, model.tokenizer))}
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    return ExportSpec(_TextLogits(model, names), tuple(encoded[n] for n in names), names, ["logits"],
                      {**axes, "logits": {0: "batch"}}, meta)


def _object_detection(model: Any) -> ExportSpec:
    image_size = model.input_transform.image_size
    meta = {"labels": _labels(model), "offset": model.offset, "threshold": model.threshold, "image_size": image_size,
            "head": model.head_name}
    image = torch.rand(3, image_size * 3 // 4, image_size)
    axes = {"image": {1: "height", 2: "width"}, "boxes": {0: "detections"}, "labels": {0: "detections"},
            "scores": {0: "detections"}}
    return ExportSpec(_Detections(model.model), (image,), ["image"], ["boxes", "labels", "scores"], axes, meta,
                      script=True)


def _speech_recognition(model: Any) -> ExportSpec:
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
    meta = {"sampling_rate": rate, "max_duration": model.max_duration, "input_names": names,
            "files": _files(backbone_files(model))}
    axes = {name: {0: "batch", 1: "samples"} for name in names}
    example = tuple(features[n].long() if n == "attention_mask" else features[n] for n in names)  # int64 masks
    return ExportSpec(_CTCLogits(model.model), example, names, ["logits", "frames"],
                      {**axes, "logits": {0: "batch", 1: "frames"}, "frames": {0: "batch"}}, meta)


SPECS = {"image_classification": _image_classification, "text_classification": _text_classification,
         "object_detection": _object_detection, "speech_recognition": _speech_recognition}


def _files(files: dict[str, Any]) -> dict[str, str]:
    """Checkpoint backbone files (str or uint8 tensors) -> ``{name: base64}`` for JSON metadata."""
    out = {}
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content.cpu().numpy().tobytes()
        out[name] = base64.b64encode(data).decode("ascii")
    return out


# ---------------------------------------------------------------------------------------- writing
def export(model: torch.nn.Module, output: str | os.PathLike, *, fmt: Literal["onnx", "torchscript"] = "onnx",
           opset: int = 17) -> Path:
    """Write ``model``'s inference graph and its preprocessing metadata to ``output``; return the path.

    Args:
        model: a trained flash task (image, detection, text, or CTC speech).
        output: the file to write (``.onnx``, or e.g. ``.ts.pt`` for TorchScript).
        fmt: ``"onnx"`` or ``"torchscript"``.
        opset: the ONNX opset.
    """
    if fmt not in ("onnx", "torchscript"):
        raise ConfigurationError(f"format must be 'onnx' or 'torchscript'. Received: format={fmt!r}")
    try:
        task = task_of(model)
    except ConfigurationError:
        example_input(model)  # a module that is no flash task: the clear error
        raise
    model = model.eval().cpu()
    spec = SPECS[task](model)
    metadata = {"format_version": FORMAT_VERSION, "task": task, **spec.metadata}
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if fmt == "torchscript":
            _torchscript(spec, output, metadata)
        else:
            _onnx(spec, output, metadata, opset=opset)
    return output


def _torchscript(spec: ExportSpec, output: Path, metadata: dict) -> None:
    module = spec.module.eval()
    scripted = torch.jit.script(module) if spec.script else torch.jit.trace(module, spec.args, check_trace=False)
    torch.jit.save(scripted, str(output), _extra_files={"flash.json": json.dumps(metadata)})


def _onnx(spec: ExportSpec, output: Path, metadata: dict, *, opset: int) -> None:
    onnx = require("onnx", "serve", purpose="ONNX export")
    torch.onnx.export(spec.module.eval(), spec.args, str(output), input_names=spec.input_names,
                      output_names=spec.output_names, dynamic_axes=spec.dynamic_axes, opset_version=opset,
                      dynamo=False)
    graph = onnx.load(str(output))
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.save(graph, str(output))


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The flash metadata stored in an exported ``.onnx`` or TorchScript file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        ort = require("onnxruntime", "serve", purpose="reading ONNX models")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    else:
        files = {"flash.json": ""}
        torch.jit.load(str(path), _extra_files=files, map_location="cpu")
        text = files["flash.json"] or None
    if not text:
        raise ConfigurationError(f"'{path}' holds no flash metadata: export it with `flash export`. "
                                 f"Received: {path.name}")
    return json.loads(text)
