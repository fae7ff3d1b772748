"""What the server runs: a trained ``Task`` (:class:`TorchPredictor`) or an exported ONNX file
(:class:`~flash.serve.onnx.OnnxPredictor`), behind one small interface.

A predictor has ``task`` (``"image_classification"``, ``"object_detection"``, ``"text_classification"``
or ``"speech_recognition"``), ``input_kind`` (``"image"``, ``"text"`` or ``"audio"``), ``labels``,
``sampling_rate`` (audio), ``image_min_size`` (the size JPEG uploads may be decoded down to, as in training)
and ``predict(inputs) -> list``, where inputs are what the server decoded:
RGB PIL images, strings, or mono float32 waveforms at ``sampling_rate``. Answers have the shape of
``flash predict --output x.json``'s ``"prediction"`` values.

Example:
    >>> predictor = load_predictor("image_classification_model.pt")  # doctest: +SKIP
    >>> predictor.predict([PIL.Image.open("cat.png").convert("RGB")])  # doctest: +SKIP
    ['cat']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flash.errors import ConfigurationError

# the task name of each flash task class (subclasses inherit it), and what its inputs are
TASK_OF_CLASS = {"ImageClassifier": "image_classification", "ObjectDetector": "object_detection",
                 "TextClassifier": "text_classification", "SpeechRecognizer": "speech_recognition"}
INPUT_KIND = {"image_classification": "image", "object_detection": "image", "text_classification": "text",
              "speech_recognition": "audio"}


def task_of(model: Any) -> str:
    """The task name of a flash task instance (its own class or the nearest flash base class)."""
    for klass in type(model).__mro__:
        if klass.__name__ in TASK_OF_CLASS and klass.__module__.startswith("flash."):
            return TASK_OF_CLASS[klass.__name__]
    raise ConfigurationError(f"flash can serve and export {', '.join(TASK_OF_CLASS)} models. "
                             f"Received: a {type(model).__name__}")


class TorchPredictor:
    """Serve a trained flash ``Task`` in inference mode on ``device``; counts its forward passes.

    Args:
        model: a flash task (e.g. from ``ImageClassifier.load_from_checkpoint``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    """

    def __init__(self, model: Any, *, device: str = "cpu") -> None:
        import torch

        self.task = task_of(model)
        self.input_kind = INPUT_KIND[self.task]
        self.model = model.to(torch.device(device)).eval()
        self.labels = _json_labels(getattr(model, "labels", None))
        self.sampling_rate = getattr(model, "sampling_rate", None) if self.input_kind == "audio" else None
        decode_size = getattr(getattr(model, "input_transform", None), "decode_size", None)
        self.image_min_size = decode_size() if callable(decode_size) else None  # JPEGs decoded as in training
        self.forward_calls = 0
        model.register_forward_pre_hook(self._count)

    def _count(self, *_: Any) -> None:
        self.forward_calls += 1

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        """One answer per input, from one ``model.predict`` call (one forward pass for the whole list).

        ``output`` is the task's ``predict(output=...)`` (e.g. ``"probabilities"``); None: its default.
        """
        import torch

        kwargs = {"output": output} if output else {}
        with torch.inference_mode():
            return list(self.model.predict(list(inputs), batch_size=max(1, len(inputs)), **kwargs))

    def describe(self) -> dict[str, Any]:
        return {"task": self.task, "input": self.input_kind, "labels": self.labels, "runtime": "torch",
                "sampling_rate": self.sampling_rate, "forward_calls": self.forward_calls}


def _json_labels(labels: Any) -> list | None:
    return [label if isinstance(label, (str, int, float)) else str(label) for label in labels] if labels else None


def load_predictor(source: Any, *, device: str = "cpu") -> Any:
    """A predictor for a task instance, a flash checkpoint (``.pt``/``.ckpt``) or an exported ``.onnx`` file."""
    if not isinstance(source, (str, os.PathLike)):
        return TorchPredictor(source, device=device)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"No model file '{path}'. Pass a checkpoint saved by flash or an exported .onnx file.")
    if path.suffix.lower() == ".onnx":
        from flash.serve.onnx import OnnxPredictor

        return OnnxPredictor(path, device=device)
    from flash.core.task import Task

    return TorchPredictor(Task.load_from_checkpoint(str(path)), device=device)
