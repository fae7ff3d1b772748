"""Export any flash task's inference model to ONNX or TorchScript, with what preprocessing needs inside.

What is traced, and the metadata stored with it, comes from the task's ``export`` adapter (its entry's
``adapters["export"]``, an :class:`~flash.core.exporting.ExportSpec`); the task's own module documents its
inputs and outputs. The metadata (task, labels, preprocessing settings, tokenizer / feature-extractor files) is
stored in the file itself: ONNX ``metadata_props["flash"]``, TorchScript extra file ``flash.json``. Read it with
:func:`~flash.serve.metadata.read_metadata`; :class:`~flash.serve.onnx.OnnxPredictor` runs the ONNX file with
the task's ``onnx`` adapter.

The file is written beside ``output`` under a temporary name and moved into place when complete, so a failed
export never leaves a partial file.

Example:
    >>> from flash.serve import export
    >>> export(model, "model.onnx", fmt="onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch

from flash.core.exporting import ExportSpec
from flash.errors import ConfigurationError, FlashError, require
from flash.serve.base import entry_of_model
from flash.serve.metadata import FORMAT_VERSION, METADATA_KEY, read_metadata

__all__ = ["FORMAT_VERSION", "METADATA_KEY", "example_input", "export", "read_metadata"]


def example_input(model: torch.nn.Module) -> torch.Tensor:
    """The model's example input (image classifiers), or a clear error for modules flash cannot export."""
    from flash.tasks import ENTRIES

    make = getattr(model, "example_input", None)
    if not callable(make):
        tasks = ", ".join(entry.model.rpartition(":")[2] for entry in ENTRIES)
        raise ConfigurationError(f"{type(model).__name__} cannot be exported yet: flash exports its tasks ({tasks}). "
                                 f"Received: a {type(model).__name__}")
    return make()


def export(model: torch.nn.Module, output: str | os.PathLike, *, fmt: Literal["onnx", "torchscript"] = "onnx",
           opset: int = 17) -> Path:
    """Write ``model``'s inference graph and its preprocessing metadata to ``output``; return the path.

    Args:
        model: a trained flash task whose entry has an ``export`` adapter.
        output: the file to write (``.onnx``, or e.g. ``.ts.pt`` for TorchScript); its folder is created.
        fmt: ``"onnx"`` or ``"torchscript"``.
        opset: the ONNX opset.
    """
    if fmt not in ("onnx", "torchscript"):
        raise ConfigurationError(f"format must be 'onnx' or 'torchscript'. Received: format={fmt!r}")
    try:
        entry = entry_of_model(model)
    except ConfigurationError:
        example_input(model)  # a module that is no flash task: the clear error
        raise
    model = model.eval().cpu()
    spec: ExportSpec = entry.adapter("export")(model)
    metadata = {"format_version": FORMAT_VERSION, "task": entry.name, **spec.metadata}
    output = Path(output)
    with _written_atomically(output) as partial, torch.no_grad():
        if fmt == "torchscript":
            _torchscript(spec, partial, metadata)
        else:
            _onnx(spec, partial, metadata, opset=opset)
    return output


@contextlib.contextmanager
def _written_atomically(output: Path) -> Iterator[Path]:
    """A temporary path beside ``output``, moved onto it when the block succeeds and removed when it fails.

    A folder that cannot hold ``output`` (a file in its place, read-only, a full disk) raises a FlashError naming
    the path and the fix.
    """
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
        os.close(handle)
    except OSError as err:
        raise _unwritable(output, err) from None
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, output)
    except OSError as err:
        raise _unwritable(output, err) from None
    finally:
        partial.unlink(missing_ok=True)


def _unwritable(output: Path, err: OSError) -> FlashError:
    parent = next((p for p in (output.parent, *output.parent.parents) if p.exists()), output.parent)
    if output.is_dir():
        reason, fix = "it is a folder", f"name a file in it, e.g. '{output / 'model.onnx'}'"
    elif not parent.is_dir():
        reason, fix = f"'{parent}' is a file, not a folder", "choose an output inside a folder"
    elif isinstance(err, PermissionError) or not os.access(parent, os.W_OK):
        reason, fix = f"the folder '{parent}' is not writable", "choose a folder you can write to"
    else:
        reason, fix = f"{type(err).__name__}: {err.strerror or err}", "free disk space or choose another folder"
    return FlashError(f"Cannot write the export to '{output}': {reason}. Nothing was written; {fix} "
                      f"(--output). Received: output='{output}'")


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
