"""Request batching: requests that arrive within ``max_wait_ms`` of each other share one forward pass.

The server's event loop hands every decoded input to :meth:`Batcher.submit`; a single background
task takes the first waiting input, collects more until ``max_batch_size`` inputs or the wait runs
out, and runs ``predict_fn`` on the whole batch in one worker thread (the model never runs twice at
once). While a batch runs, new requests queue up and form the next batch.

The queue is bounded: :meth:`Batcher.reserve` holds places for a request's inputs from before they are
decoded until they are answered, and raises :class:`QueueFull` (the server's 503 with ``Retry-After``) when
``max_queue`` places are taken. Overload then shows as quick refusals, not as latency that grows without end.

Example:
    >>> import asyncio
    >>> async def main():
    ...     batcher = Batcher(lambda xs: [x * 2 for x in xs], max_batch_size=4, max_wait_ms=50)
    ...     batcher.start()
    ...     results = await asyncio.gather(*(batcher.submit(i) for i in range(4)))
    ...     await batcher.stop()
    ...     return results, batcher.stats["batches"]
    >>> asyncio.run(main())
    ([0, 2, 4, 6], 1)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flash.errors import ConfigurationError


class QueueFull(Exception):
    """The queue has no room for ``count`` more inputs; ``retry_after``: whole seconds until it likely has."""

    def __init__(self, *, count: int, depth: int, max_queue: int, retry_after: int) -> None:
        super().__init__(f"The queue holds {depth} of at most {max_queue} inputs; {count} more do not fit.")
        self.count, self.depth, self.max_queue, self.retry_after = count, depth, max_queue, retry_after


class Batcher:
    """Group concurrent inputs into batches for ``predict_fn(list) -> list`` (one result per input).

    Args:
        predict_fn: runs the model on a list of inputs; returns a list of the same length.
        max_batch_size: the most inputs one forward pass takes.
        max_wait_ms: how long the first input of a batch waits for company.
        max_queue: the most inputs held at once (decoding, waiting or in the model); default: 4 batches.
    """

    def __init__(self, predict_fn: Callable[[list], Sequence], *, max_batch_size: int = 16,
                 max_wait_ms: float = 5.0, max_queue: int | None = None) -> None:
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be an int >= 1. Received: max_batch_size={max_batch_size!r}")
        if not isinstance(max_wait_ms, (int, float)) or max_wait_ms < 0:
            raise ConfigurationError(f"max_wait_ms must be a number >= 0. Received: max_wait_ms={max_wait_ms!r}")
        max_queue = 4 * max_batch_size if max_queue is None else max_queue
        if not isinstance(max_queue, int) or isinstance(max_queue, bool) or max_queue < 1:
            raise ConfigurationError(f"max_queue must be an int >= 1 (inputs held at once). "
                                     f"Received: max_queue={max_queue!r}")
        self.predict_fn, self.max_batch_size, self.max_wait = predict_fn, max_batch_size, max_wait_ms / 1000
        self.max_queue = max_queue
        self.stats = {"batches": 0, "inputs": 0, "largest_batch": 0, "rejected": 0}
        self.held = 0  # inputs holding a place: reserved by a request, or submitted on their own
        self._batch_seconds = 0.0  # a moving average of a batch's time in the model, for Retry-After
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="flash-serve-model")

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the batching task and let the model thread finish its batch."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._worker.shutdown(wait=True)

    @property
    def queue_stats(self) -> dict[str, int]:
        """``queue_depth`` (inputs held now: decoding, waiting or in the model), ``max_queue``, ``queue_waiting``
        (decoded inputs waiting for a batch) and ``rejected`` (inputs refused as the queue was full)."""
        return {"queue_depth": self.held, "max_queue": self.max_queue,
                "queue_waiting": self._queue.qsize() if self._queue is not None else 0,
                "rejected": self.stats["rejected"]}

    def retry_after(self) -> int:
        """Whole seconds (at least 1) until the inputs held now are likely answered."""
        batches = math.ceil(max(self.held, 1) / self.max_batch_size)
        return max(1, math.ceil(batches * self._batch_seconds))

    @contextlib.contextmanager
    def reserve(self, count: int) -> Iterator[None]:
        """Hold ``count`` places while a request decodes its inputs and awaits their :meth:`submit`; on the
        event loop's thread only. Raises :class:`QueueFull` at once when they do not fit."""
        if self.held + count > self.max_queue:
            self.stats["rejected"] += count
            raise QueueFull(count=count, depth=self.held, max_queue=self.max_queue, retry_after=self.retry_after())
        self.held += count
        try:
            yield
        finally:
            self.held -= count

    async def submit(self, item: Any, *, reserved: bool = False) -> Any:
        """Queue one input; returns its result (or raises the error its prediction raised).

        ``reserved=True``: its place is held by a :meth:`reserve` around this call; otherwise it takes one
        itself (:class:`QueueFull` when there is none).
        """
        if self._queue is None:
            raise RuntimeError("Batcher.start() must run before submit().")
        with contextlib.nullcontext() if reserved else self.reserve(1):
            future = asyncio.get_running_loop().create_future()
            self._queue.put_nowait((item, future))
            return await future

    async def _collect(self) -> list[tuple[Any, asyncio.Future]]:
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():  # already waiting: take it without a timer
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        return [(item, future) for item, future in batch if not future.cancelled()]  # clients that hung up

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            items = [item for item, _ in batch]
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._worker, self._predict, items)
            except Exception:  # noqa: BLE001 - one bad input must not fail the others: retry one by one
                results = [await loop.run_in_executor(self._worker, self._predict_one, item) for item in items]
            seconds = time.perf_counter() - start
            self._batch_seconds = seconds if not self._batch_seconds else 0.8 * self._batch_seconds + 0.2 * seconds
            for (_, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, _Failed):
                    future.set_exception(result.error)
                else:
                    future.set_result(result)

    def _predict(self, items: list) -> list:
        results = list(self.predict_fn(items))
        if len(results) != len(items):
            raise RuntimeError(f"predict_fn returned {len(results)} results for {len(items)} inputs.")
        self.stats["batches"] += 1
        self.stats["inputs"] += len(items)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(items))
        return results

    def _predict_one(self, item: Any) -> Any:
        try:
            return self._predict([item])[0]
        except Exception as err:  # noqa: BLE001 - handed to that request's future
            return _Failed(err)


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error
