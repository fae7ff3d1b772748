"""``serve(...)``: run a model behind a real HTTP server (FastAPI on uvicorn) until Ctrl+C / SIGTERM.

Example:
    >>> from flash.serve import serve
    >>> serve("model.pt", port=8000)  # doctest: +SKIP
    >>> model.serve(port=8000)  # the same, from a task in memory  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from flash.errors import ConfigurationError, require
from flash.serve.app import DEFAULT_MAX_BYTES, create_app
from flash.serve.predictors import load_predictor


def serve(source: Any, *, host: str = "127.0.0.1", port: int = 8000, device: str = "cpu", max_batch_size: int = 16,
          max_wait_ms: float = 5.0, max_queue: int | None = None, max_request_bytes: int = DEFAULT_MAX_BYTES,
          allow_urls: bool = False, log_level: str = "info") -> None:
    """Serve a task, a flash checkpoint or an exported ``.onnx`` file over HTTP; blocks until stopped.

    Args:
        source: a flash ``Task``, a checkpoint path, or an ``.onnx`` file written by ``flash export``.
        host, port: where to listen (``host="0.0.0.0"`` to be reachable from other machines).
        device: where the model runs (``"cpu"``, ``"cuda"``, ...; ONNX: ``"cuda"`` uses onnxruntime's CUDA provider).
        max_batch_size, max_wait_ms: request batching (see :class:`~flash.serve.batching.Batcher`).
        max_queue: the most inputs held at once (decoding, waiting or in the model); when full, requests are
            answered 503 with ``Retry-After`` at once. Default: 4 batches, at least 64 (one full request).
        max_request_bytes: larger requests are refused with 413.
        allow_urls: let JSON requests name http(s) URLs for the server to fetch.
        log_level: uvicorn's log level.
    """
    uvicorn = require("uvicorn", "serve", purpose="flash serve")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"port must be an int in 0..65535. Received: port={port!r}")
    predictor = load_predictor(source, device=device)
    app = create_app(predictor, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue,
                     max_request_bytes=max_request_bytes, allow_urls=allow_urls)
    print(f"Serving a {predictor.task} model on http://{host}:{port}  (page: /, API docs: /docs, Ctrl+C to stop)",
          file=sys.stderr, flush=True)
    with _quiet_stop():
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    print("Server stopped.", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet_stop() -> Iterator[None]:
    """Ctrl+C / SIGTERM end the server cleanly: uvicorn shuts down gracefully, then re-raises the signal to the
    handler that was installed before it; a no-op one here, so ``serve`` returns and the process exits with 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
