"""Run an exported ``.onnx`` model with onnxruntime: the same answers as the task it was exported from.

The file's metadata names its task; that task's ``onnx`` adapter (a runner) pre-processes with flash's own
transforms (rebuilt from the stored settings) and the stored tokenizer / feature-extractor files, runs the session
and post-processes, so ``flash predict --checkpoint model.onnx`` answers as the checkpoint does.

Example:
    >>> predictor = OnnxPredictor("model.onnx")  # doctest: +SKIP
    >>> predictor.predict([predictor.load("cat.png")])  # doctest: +SKIP
    ['cat']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flash.errors import require
from flash.serve.base import Predictor, entry_of_export
from flash.serve.inputs import RequestError
from flash.serve.metadata import read_metadata


class OnnxPredictor(Predictor):
    """An exported model on onnxruntime, with the predictor interface the server uses.

    Args:
        path: an ``.onnx`` file written by ``flash export`` (or :func:`flash.serve.export`).
        device: ``"cpu"``; ``"cuda"`` adds onnxruntime's CUDA provider when it is available.
    """

    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu") -> None:
        ort = require("onnxruntime", "serve", purpose="running ONNX models")
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        entry = entry_of_export(self.metadata, path=self.path)
        self.session = ort.InferenceSession(str(self.path), providers=providers)
        self.runner = entry.adapter("onnx")(self.session, self.metadata)
        super().__init__(entry, settings=dict(self.runner.settings), labels=self.metadata.get("labels"))

    def load(self, item: str | os.PathLike) -> Any:
        """A file path (or, for text models, the text itself) -> what :meth:`predict` takes."""
        return self.runner.load(item)

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        """One answer per input (as the task's serve adapter decodes them), as the task's ``predict`` gives it."""
        if output not in (None, self.runner.default_output):
            raise RequestError(f"Exported models give the task's default answers only "
                               f"(output={self.runner.default_output!r}). Received: output={output!r}", status=422)
        self.forward_calls += 1
        return self.runner(list(inputs))
