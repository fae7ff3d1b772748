"""What a task's ``export`` adapter returns: the module to trace, example inputs, names, axes and metadata.

The ``flash export`` command and :func:`flash.serve.export` write any task through its ``ExportSpec``; the
task's ``onnx`` adapter reads the same ``metadata`` back to pre- and post-process around onnxruntime.

Example:
    >>> import torch
    >>> spec = ExportSpec(torch.nn.Identity(), (torch.zeros(1, 3),), ["input"], ["output"], {"input": {0: "batch"}})
    >>> spec.input_names, spec.script
    (['input'], False)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class ExportSpec:
    """What to trace: a module, example inputs, names, dynamic axes and the metadata to store in the file.

    ``metadata`` must be JSON-serialisable; flash adds ``task`` and ``format_version`` to it. ``script=True``
    exports TorchScript by scripting (control flow that depends on data) instead of tracing.
    """

    module: torch.nn.Module
    args: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, Any] = field(default_factory=dict)
    script: bool = False


def json_labels(labels: Any) -> list | None:
    """Labels as JSON values (strings, numbers), or None when the model has none."""
    return [label if isinstance(label, (str, int, float)) else str(label) for label in labels] if labels else None


def encode_files(files: dict[str, Any]) -> dict[str, str]:
    """Checkpoint backbone files (str or uint8 tensors) -> ``{name: base64}`` for JSON metadata."""
    out = {}
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content.cpu().numpy().tobytes()
        out[name] = base64.b64encode(data).decode("ascii")
    return out
