"""``flash serve`` and ``flash predict --checkpoint model.onnx`` (imported only once a command runs)."""

from __future__ import annotations

from typing import Any


def run_serve(args: Any, extra: list[str]) -> int:
    from flash.serve import serve

    serve(args.checkpoint, host=args.host, port=args.port, device=args.device, max_batch_size=args.max_batch_size,
          max_wait_ms=args.max_wait_ms, max_request_bytes=args.max_request_bytes, allow_urls=args.allow_urls)
    return 0


def run_predict_exported(args: Any) -> int:
    """Predict with an exported ``.onnx`` model on onnxruntime; the output is ``flash predict``'s."""
    from flash.cli.commands import _emit, _expand_inputs
    from flash.errors import ConfigurationError
    from flash.serve.onnx import OnnxPredictor
    from flash.tasks import get_task

    if args.output_type not in (None, "labels"):
        raise ConfigurationError(f"Exported models give labels (detection: boxes, labels, scores). "
                                 f"Received: --output-type {args.output_type}")
    predictor = OnnxPredictor(args.checkpoint, device=args.device)
    items = _expand_inputs(get_task(str(predictor.task)), args.inputs, args.column)
    results: list[Any] = []
    for start in range(0, len(items), args.batch_size):
        results += predictor.predict([predictor.load(item) for item in items[start : start + args.batch_size]])
    return _emit(args, items, results)
