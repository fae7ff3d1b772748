"""``flash serve --checkpoint MODEL [--port 8000]`` (imported only once the command runs).

The checkpoint is checked here, before anything loads or binds: a missing file, a folder or an unreadable
``.onnx`` file is one clear line.
"""

from __future__ import annotations

from typing import Any


def run_serve(args: Any, extra: list[str]) -> int:
    from pathlib import Path

    from flash.cli.predict import check_device, onnx_predictor
    from flash.serve import serve

    source: Any = args.checkpoint
    if Path(args.checkpoint).suffix.lower() == ".onnx":
        onnx_predictor(args.checkpoint, args.device)  # readable, or one clear line; the server loads its own
    else:
        from flash.cli.common import load_task

        check_device(args.device)
        source = load_task(args.checkpoint)[1]
    serve(source, host=args.host, port=args.port, device=args.device, max_batch_size=args.max_batch_size,
          max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, max_request_bytes=args.max_request_bytes,
          allow_urls=args.allow_urls)
    return 0
