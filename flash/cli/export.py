"""Export a task's inference model to ONNX or TorchScript, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from flash.errors import ConfigurationError, require


class _Inference(torch.nn.Module):
    """The task's forward alone: inputs in, raw outputs (logits) out."""

    def __init__(self, task: torch.nn.Module) -> None:
        super().__init__()
        self.task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task(x)


def example_input(model: torch.nn.Module) -> torch.Tensor:
    make = getattr(model, "example_input", None)
    if not callable(make):
        raise ConfigurationError(
            f"{type(model).__name__} cannot be exported yet: its inference takes structured inputs "
            "(token dicts, lists of variable-size images or audio) that ONNX/TorchScript export does not cover here. "
            "Use `flash predict` with the checkpoint instead."
        )
    return make()


def export(model: torch.nn.Module, output: Path, *, fmt: Literal["onnx", "torchscript"]) -> Path:
    """Write ``model``'s inference graph to ``output``; return the path."""
    model = model.eval().cpu()
    x = example_input(model)
    module = _Inference(model).eval()
    output.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(module, (x,))
            traced.save(str(output))
        elif fmt == "onnx":
            require("onnx", "export", purpose="ONNX export")
            torch.onnx.export(module, (x,), str(output), input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False)
        else:
            raise ConfigurationError(f"format must be 'onnx' or 'torchscript'. Received: format={fmt!r}")
    return output
