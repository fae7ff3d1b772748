"""``flash export --checkpoint MODEL.pt [--format onnx|torchscript] [--output FILE]``.

The output path is checked before the model is loaded (a folder above it that is a file, a read-only folder);
a failed export leaves no partial file behind and puts back the file it was replacing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flash.cli.common import check_writable, load_task, replacing


def run_export(args: Any, extra: list[str]) -> int:
    suffix = ".onnx" if args.format == "onnx" else ".ts.pt"
    output = Path(args.output) if args.output else Path(args.checkpoint).with_suffix(suffix)
    check_writable(output, flag="--output")  # before the (slow) model load
    entry, model = load_task(args.checkpoint)
    from flash.serve.export import export

    with replacing(output, flag="--output"):
        export(model, output, fmt=args.format)
    print(f"Exported {entry.name} model to {output} ({args.format})")
    return 0
