"""What the server runs: a trained ``Task`` (:class:`TorchPredictor`) or an exported ONNX file
(:class:`~flash.serve.onnx.OnnxPredictor`), behind the interface of :class:`~flash.serve.base.Predictor`.

Inputs are what the task's ``serve`` adapter decoded (e.g. RGB PIL images, strings, waveforms); answers have the
shape of ``flash predict --output x.json``'s ``"prediction"`` values.

Example:
    >>> predictor = load_predictor("model.pt")  # doctest: +SKIP
    >>> predictor.predict([PIL.Image.open("cat.png").convert("RGB")])  # doctest: +SKIP
    ['cat']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flash.core.exporting import json_labels
from flash.serve.base import Predictor, entry_of_model


class TorchPredictor(Predictor):
    """Serve a trained flash ``Task`` in inference mode on ``device``; counts its forward passes.

    Args:
        model: a flash task (e.g. from ``Task.load_from_checkpoint``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    """

    runtime = "torch"

    def __init__(self, model: Any, *, device: str = "cpu") -> None:
        import torch

        entry = entry_of_model(model)
        self.model = model.to(torch.device(device)).eval()
        super().__init__(entry, settings=entry.adapter("serve").settings(model),
                         labels=json_labels(getattr(model, "labels", None)))
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


def load_predictor(source: Any, *, device: str = "cpu") -> Predictor:
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
