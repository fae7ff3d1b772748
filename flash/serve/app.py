"""The FastAPI app: ``POST /predict`` (batched), ``GET /health``, ``GET /`` (a small page), OpenAPI at ``/docs``.

Example:
    >>> from flash.serve import create_app, load_predictor
    >>> app = create_app(load_predictor("model.pt"), max_batch_size=16)  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from flash.errors import ConfigurationError, DataError, require
from flash.serve.batching import Batcher, QueueFull
from flash.serve.forms import read_form
from flash.serve.inputs import RequestError, checked_text, decode_upload, json_item_bytes

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_INPUTS = 64  # inputs in one request
Fetch = Callable[[], tuple[str, bytes]]  # one input's (name, bytes); may decode base64 or fetch a URL


def default_max_queue(max_batch_size: int) -> int:
    """``--max-queue``'s default: 4 batches' worth of inputs, and at least one full request (64 inputs)."""
    return max(4 * max_batch_size, MAX_INPUTS)

PREDICT_DOC = """Predict on one or more inputs; one answer per input, as `flash predict --output x.json` writes them.

* **multipart/form-data**: files (any field name, e.g. `files`); text models also take `text` fields.
* **application/json**: `{"inputs": [...]}` (or `{"input": ...}`): texts for text models; base64 (or `data:` URLs)
  for image and audio models; http(s) URLs when the server runs with `--allow-urls`.

Returns `[{"input": name, "prediction": ...}]`. Errors are 4xx JSON `{"detail": "..."}` that name the problem.
When the server's queue is full: 503 with `Retry-After` (seconds), at once; retry then.
"""
_REQUEST_BODY = {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "text": {"type": "array", "items": {"type": "string"}}}}},
    "application/json": {"schema": {"type": "object", "properties": {
        "inputs": {"type": "array", "items": {"type": "string"}}, "input": {"type": "string"}}},
        "example": {"inputs": ["a wonderful film"]}},
}, "required": True}


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 (by Content-Length, or while it streams)."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _too_large(send, int(length), self.max_bytes)
        received = 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise RequestError(_too_large_message(received, self.max_bytes), status=413)
            return message

        await self.app(scope, limited, send)


def _too_large_message(size: int, limit: int) -> str:
    return (f"The request is larger than this server's limit of {limit} bytes. Send smaller files or fewer at a "
            f"time, or start the server with a larger --max-request-bytes. Received: {size} bytes")


async def _too_large(send: Any, size: int, limit: int) -> None:
    body = json.dumps({"detail": _too_large_message(size, limit)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(predictor: Any, *, max_batch_size: int = 16, max_wait_ms: float = 5.0, max_queue: int | None = None,
               max_request_bytes: int = DEFAULT_MAX_BYTES, allow_urls: bool = False,
               decode_threads: int | None = None) -> Any:
    """Build the FastAPI app serving ``predictor`` (see :func:`flash.serve.load_predictor`).

    Args:
        predictor: a :class:`~flash.serve.TorchPredictor` or :class:`~flash.serve.OnnxPredictor`.
        max_batch_size: the most inputs one forward pass takes.
        max_wait_ms: how long a request waits for others to share its forward pass.
        max_queue: the most inputs the server holds at once (decoding, waiting or in the model); a request that
            does not fit is answered 503 with ``Retry-After`` at once. Default: :func:`default_max_queue`.
        max_request_bytes: larger requests get 413.
        allow_urls: fetch http(s) URLs given in JSON requests (off: the server reaches nothing on its own).
        decode_threads: threads decoding uploads off the event loop; default: the usable cores
            (:func:`flash.core.threads.usable_cores`).
    """
    fastapi = require("fastapi", "serve", purpose="flash serve")
    from fastapi.responses import HTMLResponse, JSONResponse

    from flash.core.threads import usable_cores

    max_queue = default_max_queue(max_batch_size) if max_queue is None else max_queue
    batcher = Batcher(lambda items: _predict_grouped(predictor, items), max_batch_size=max_batch_size,
                      max_wait_ms=max_wait_ms, max_queue=max_queue)
    decoder = concurrent.futures.ThreadPoolExecutor(max_workers=decode_threads or usable_cores(),
                                                    thread_name_prefix="flash-serve-decode")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        batcher.start()
        yield
        await batcher.stop()
        decoder.shutdown(wait=True)

    app = fastapi.FastAPI(title=f"flash {predictor.task}", lifespan=lifespan,
                          description=f"A flash {predictor.task.replace('_', ' ')} model served over HTTP.")
    settings = {"max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
                "max_request_bytes": max_request_bytes, "allow_urls": allow_urls}

    @app.exception_handler(RequestError)
    async def request_error(request: Any, err: RequestError) -> Any:
        return JSONResponse({"detail": str(err)}, status_code=err.status, headers=err.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Any, err: Exception) -> Any:  # still JSON, and the server keeps serving
        return JSONResponse({"detail": f"The model failed on this request: {type(err).__name__}: {err}"},
                            status_code=500)

    @app.get("/", response_class=HTMLResponse, summary="A page to try the model in a browser")
    async def page() -> str:
        return resources.files("flash.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/health", summary="Liveness, the task, batching counters and the queue's depth")
    async def health() -> dict:
        return {"status": "ok", **predictor.describe(), **settings, **batcher.stats, **batcher.queue_stats}

    @app.post("/predict", summary="Predict on uploaded files, texts or base64 data", description=PREDICT_DOC,
              openapi_extra={"requestBody": _REQUEST_BODY})
    async def predict(request: fastapi.Request, output: str | None = None) -> Any:  # type: ignore[name-defined]
        """``output``: as ``flash predict --output-type`` (e.g. ``probabilities``); default: the task's."""
        fetches = await _read_inputs(request, predictor, allow_urls=allow_urls, max_bytes=max_request_bytes)
        with _place_in(batcher, len(fetches)):
            named = await _decode_all(decoder, predictor, fetches)
            results = await asyncio.gather(*(batcher.submit((value, output), reserved=True) for _, value in named),
                                           return_exceptions=True)
        for (name, _), result in zip(named, results):
            if isinstance(result, (DataError, ConfigurationError, RequestError)):
                raise RequestError(f"Cannot predict on '{name}': {result}", status=422)
            if isinstance(result, BaseException):
                raise result
        return [{"input": name, "prediction": predictor.encode(result)} for (name, _), result in zip(named, results)]

    return BodyLimit(app, max_bytes=max_request_bytes) if max_request_bytes else app


@contextlib.contextmanager
def _place_in(batcher: Batcher, count: int) -> Any:
    """Hold ``count`` places in the batcher's queue; a full queue is a 503 with ``Retry-After``, at once."""
    if count > batcher.max_queue:
        raise RequestError(f"This request holds {count} inputs, more than this server's queue holds at once. Send at "
                           f"most {batcher.max_queue} per request, or start the server with a larger --max-queue. "
                           f"Received: {count} inputs", status=413)
    try:
        with batcher.reserve(count):
            yield
    except QueueFull as full:
        raise RequestError(
            f"The server is busy: its queue holds {full.depth} of at most {full.max_queue} inputs (--max-queue "
            f"{full.max_queue}). Retry after {full.retry_after} s, or start the server with a larger --max-queue or "
            f"run more replicas behind a load balancer. Received: {count} inputs", status=503,
            headers={"Retry-After": str(full.retry_after)}) from None


async def _decode_all(decoder: concurrent.futures.Executor, predictor: Any, fetches: list[Fetch]) -> list:
    """``[(name, decoded input)]``, decoded by the task's serve adapter in ``decoder``'s threads (not on the event
    loop); the first unreadable input, in the request's order, is the request's 4xx."""
    loop = asyncio.get_running_loop()
    decoded = await asyncio.gather(*(loop.run_in_executor(decoder, _decode_one, predictor.decode, fetch)
                                     for fetch in fetches), return_exceptions=True)
    for result in decoded:
        if isinstance(result, BaseException):
            raise result
    return decoded


def _decode_one(decode: Callable[..., Any], fetch: Fetch) -> tuple[str, Any]:
    name, data = fetch()
    return name, decode_upload(decode, data, name=name)


def _predict_grouped(predictor: Any, items: list[tuple[Any, str | None]]) -> list:
    """Predict on ``(input, output type)`` pairs: one ``predict`` call per output type (usually one)."""
    results: list = [None] * len(items)
    for output in dict.fromkeys(output for _, output in items):
        indices = [i for i, (_, o) in enumerate(items) if o == output]
        for i, result in zip(indices, predictor.predict([items[i][0] for i in indices], output=output)):
            results[i] = result
    return results


async def _read_inputs(request: Any, predictor: Any, *, allow_urls: bool, max_bytes: int) -> list[Fetch]:
    """One ``fetch() -> (name, bytes)`` per input of a multipart, form or JSON request; the checks, base64
    decoding and URL fetches they do run with the decoding, off the event loop."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        fetches = await _form(request)
    elif content_type.startswith("application/json"):
        fetches = await _json(request, predictor, allow_urls=allow_urls, max_bytes=max_bytes)
    else:
        raise RequestError("Send multipart/form-data (file uploads) or application/json ({\"inputs\": [...]}). "
                           f"Received: Content-Type={content_type or 'none'!r}", status=415)
    if not fetches:
        raise RequestError("The request holds no inputs: upload files (multipart) or send {\"inputs\": [...]} as JSON.")
    if len(fetches) > MAX_INPUTS:
        raise RequestError(f"At most {MAX_INPUTS} inputs per request. Received: {len(fetches)} inputs", status=413)
    return fetches


def _given(name: str, data: bytes) -> tuple[str, bytes]:
    return name, data


def _form_text(name: str, data: bytes) -> tuple[str, bytes]:
    return name, checked_text(data, name=name)


async def _form(request: Any) -> list[Fetch]:
    """Uploaded files as they are; text fields checked as texts (UTF-8, not empty), as JSON strings are."""
    parts = await read_form(request, max_parts=MAX_INPUTS)
    return [functools.partial(_given if part.is_file else _form_text, part.name, part.data) for part in parts]


async def _json(request: Any, predictor: Any, *, allow_urls: bool, max_bytes: int) -> list[Fetch]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as err:
        raise RequestError(f"The body is not valid JSON: {err}. Send {{\"inputs\": [...]}}.") from None
    if not isinstance(body, dict) or not ({"inputs", "input"} & set(body)):
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise RequestError(f"JSON requests are {{\"inputs\": [...]}} or {{\"input\": ...}}. Received: {keys}")
    items = body["inputs"] if "inputs" in body else [body["input"]]
    if not isinstance(items, list):
        raise RequestError(f"\"inputs\" must be a list. Received: inputs={type(items).__name__}")
    if predictor.input_kind == "text":  # JSON inputs are the texts themselves; for other kinds, files in base64
        return [functools.partial(_text, item, i) for i, item in enumerate(items)]
    return [functools.partial(json_item_bytes, item, index=i, allow_urls=allow_urls, max_bytes=max_bytes)
            for i, item in enumerate(items)]


def _text(item: Any, index: int) -> tuple[str, bytes]:
    name = f"inputs[{index}]"
    if not isinstance(item, str):
        raise RequestError(f"{name} must be a string. Received: {name}={item!r}", status=422)
    return name, checked_text(item.encode("utf-8", "surrogatepass"), name=name)
