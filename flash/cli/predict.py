"""``flash predict --checkpoint MODEL INPUTS... [--output FILE|FOLDER/] [--resume]``: from a flash checkpoint
or an exported ``.onnx`` file, written batch by batch (see :mod:`flash.cli.predict_output`).

Example::

    flash predict --checkpoint model.pt data/test/ --output preds.csv
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flash.cli.common import expand_inputs, load_task
from flash.cli.predict_output import is_folder, open_output
from flash.core.entry import TaskEntry
from flash.errors import ConfigurationError, DataError
from flash.tasks import get_task


def check_device(text: str) -> Any:
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise ConfigurationError(f"--device {text!r} is not a device: cpu, cuda, cuda:1, mps. "
                                 f"Received: --device {text}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"--device {text}: this machine has no CUDA device; use --device cpu. "
                                 f"Received: --device {text}")
    return device


def _todo(items: list[Any], done: Counter, output: str | None) -> list[Any]:
    """``items`` less those already in the output (``--resume``), each counted as often as it appears there."""
    if not done:
        return items
    left, done = [], Counter(done)
    for item in items:
        if done[item] > 0:
            done[item] -= 1
        else:
            left.append(item)
    print(f"Resume: {len(items) - len(left)} of {len(items)} inputs are already in {output}; "
          f"predicting the other {len(left)}.")
    return left


def stream(items: list[Any], predict: Callable[[list[Any]], list[Any]], out: Any, *, batch_size: int,
           context: Any = None) -> None:
    """Predict ``items`` batch by batch into ``out``; on any failure ``out`` keeps (or removes) what it should."""
    import contextlib

    from tqdm.auto import tqdm

    show_bar = len(items) > batch_size and sys.stderr.isatty()
    out.start()
    try:
        bar = tqdm(total=len(items), disable=not show_bar, desc="Predicting")
        with bar, context or contextlib.nullcontext():
            for start in range(0, len(items), batch_size):
                chunk = items[start : start + batch_size]
                results = list(predict(chunk))
                if len(results) != len(chunk):
                    raise RuntimeError(f"the model returned {len(results)} predictions for {len(chunk)} inputs")
                out.write(chunk, results)
                bar.update(len(chunk))
        out.close()
    except BaseException:
        out.abort()
        raise


def _finish(args: Any, out: Any, total: int) -> int:
    if args.output:
        print(f"Wrote {out.written} predictions to {args.output}" +
              (f" ({total - out.written} were there already)" if total > out.written else ""))
    return 0


def _prepare(args: Any, entry: TaskEntry, early: Any) -> tuple[Any, list[Any]]:
    out = early or open_output(args.output, entry=entry, resume=args.resume)
    items = expand_inputs(entry, args.inputs, args.column)
    return out, _todo(items, out.done, args.output)


def run_predict(args: Any, extra: list[str]) -> int:
    # a file output is checked before the model loads; a folder output needs the task (its write adapter)
    early = None if args.output and is_folder(args.output) else open_output(args.output, entry=None,
                                                                           resume=args.resume)
    if Path(args.checkpoint).suffix.lower() == ".onnx":
        return _predict_exported(args, early)
    device = check_device(args.device)
    entry, model = load_task(args.checkpoint)
    out, items = _prepare(args, entry, early)
    model = model.to(device)
    from flash.engine.precision import get_precision

    precision = get_precision(args.precision, device_type=device.type)
    precision.convert_module(model)
    kwargs = {"output": args.output_type} if args.output_type else {}
    total = len(items) + sum(out.done.values())
    stream(items, lambda chunk: model.predict(chunk, batch_size=args.batch_size, **kwargs), out,
           batch_size=args.batch_size, context=precision.autocast(device.type))
    return _finish(args, out, total)


def onnx_predictor(path: str, device: str) -> Any:
    """``OnnxPredictor(path)``; a missing, empty or unreadable file says what it is and what to do."""
    from flash.serve.onnx import OnnxPredictor

    file = Path(path)
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        raise DataError(f"--checkpoint '{path}' {what}; give an .onnx file written by `flash export`. "
                        f"Received: --checkpoint {path}")
    try:
        return OnnxPredictor(path, device=device)
    except (DataError, ConfigurationError):
        raise
    except Exception as err:  # onnxruntime's InvalidProtobuf, Fail, ...: the file, not flash
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"'{path}' is not a readable ONNX model (empty, truncated or another format: {reason}). "
                        f"Export it again with `flash export --checkpoint MODEL.pt --format onnx`, or copy it "
                        f"again. Received: --checkpoint {path}") from None


def _predict_exported(args: Any, early: Any) -> int:
    """Predict with an exported ``.onnx`` model on onnxruntime; the output is ``flash predict``'s."""
    if args.output_type not in (None, "labels"):
        raise ConfigurationError(f"Exported models give labels (detection: boxes, labels, scores). "
                                 f"Received: --output-type {args.output_type}")
    predictor = onnx_predictor(args.checkpoint, args.device)
    out, items = _prepare(args, get_task(str(predictor.task)), early)
    total = len(items) + sum(out.done.values())
    stream(items, lambda chunk: predictor.predict([predictor.load(item) for item in chunk]), out,
           batch_size=args.batch_size)
    return _finish(args, out, total)
