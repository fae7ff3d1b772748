"""Request batching: requests that arrive within ``max_wait_ms`` of each other share one forward pass.

The server's event loop hands every decoded input to :meth:`Batcher.submit`; a single background
task takes the first waiting input, collects more until ``max_batch_size`` inputs or the wait runs
out, and runs ``predict_fn`` on the whole batch in one worker thread (the model never runs twice at
once). While a batch runs, new requests queue up and form the next batch.

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
from collections.abc import Callable, Sequence
from typing import Any

from flash.errors import ConfigurationError


class Batcher:
    """Group concurrent inputs into batches for ``predict_fn(list) -> list`` (one result per input).

    Args:
        predict_fn: runs the model on a list of inputs; returns a list of the same length.
        max_batch_size: the most inputs one forward pass takes.
        max_wait_ms: how long the first input of a batch waits for company.
    """

    def __init__(self, predict_fn: Callable[[list], Sequence], *, max_batch_size: int = 16,
                 max_wait_ms: float = 5.0) -> None:
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be an int >= 1. Received: max_batch_size={max_batch_size!r}")
        if not isinstance(max_wait_ms, (int, float)) or max_wait_ms < 0:
            raise ConfigurationError(f"max_wait_ms must be a number >= 0. Received: max_wait_ms={max_wait_ms!r}")
        self.predict_fn, self.max_batch_size, self.max_wait = predict_fn, max_batch_size, max_wait_ms / 1000
        self.stats = {"batches": 0, "inputs": 0, "largest_batch": 0}
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

    async def submit(self, item: Any) -> Any:
        """Queue one input; returns its result (or raises the error its prediction raised)."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() must run before submit().")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
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
            try:
                results = await loop.run_in_executor(self._worker, self._predict, items)
            except Exception:  # noqa: BLE001 - one bad input must not fail the others: retry one by one
                results = [await loop.run_in_executor(self._worker, self._predict_one, item) for item in items]
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
