"""Deploy what you trained: serve a model over HTTP, export it to ONNX / TorchScript, run exported models.

Example:
    >>> from flash.serve import serve, export
    >>> export(model, "model.onnx", fmt="onnx")  # doctest: +SKIP
    >>> serve("model.onnx", port=8000)  # doctest: +SKIP

Everything is imported lazily: ``import flash.serve`` loads neither torch nor FastAPI.
"""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY = {
    "serve": "flash.serve.server",
    "create_app": "flash.serve.app",
    "Batcher": "flash.serve.batching",
    "load_predictor": "flash.serve.predictors",
    "TorchPredictor": "flash.serve.predictors",
    "OnnxPredictor": "flash.serve.onnx",
    "export": "flash.serve.export",
    "read_metadata": "flash.serve.metadata",
}
__all__ = sorted(_LAZY)
__getattr__ = lazy_getattr(__name__, _LAZY)
