"""The Batcher in-process: batch sizes, order of answers, and one bad input failing only its own request."""

from __future__ import annotations

import asyncio
import threading

import pytest

from flash.serve.batching import Batcher


def run(batcher: Batcher, items: list) -> list:
    async def main():
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(item) for item in items), return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_queued_inputs_fill_batches_up_to_the_maximum_and_answers_keep_their_order():
    calls: list[list[int]] = []

    def predict(xs):
        calls.append(list(xs))
        return [x * 10 for x in xs]

    assert run(Batcher(predict, max_batch_size=4, max_wait_ms=20), list(range(10))) == [x * 10 for x in range(10)]
    assert [len(c) for c in calls] == [4, 4, 2]  # all ten were queued before the first batch ran


def test_a_failing_input_fails_alone():
    def predict(xs):
        if "bad" in xs:
            raise ValueError("cannot read 'bad'")
        return [x.upper() for x in xs]

    results = run(Batcher(predict, max_batch_size=8, max_wait_ms=20), ["a", "bad", "c"])
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError) and "cannot read 'bad'" in str(results[1])


@pytest.mark.parametrize("kwargs, message", [({"max_batch_size": 0}, "max_batch_size=0"),
                                             ({"max_wait_ms": -1}, "max_wait_ms=-1")])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Batcher(lambda xs: xs, **kwargs)


def test_importing_flash_serve_loads_no_heavy_library():
    import json
    import subprocess
    import sys

    heavy = ("torch", "fastapi", "uvicorn", "onnxruntime", "onnx", "transformers", "PIL")
    code = (
        f"import json, sys, flash.serve, flash.cli.serve; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(result.stdout) == []


def test_inputs_submitted_beyond_max_queue_are_refused_at_once_and_counted():
    from flash.serve.batching import QueueFull

    gate = threading.Event()

    def predict(xs):
        assert gate.wait(120), "the model was never released"  # a safety net for a broken build only
        return xs

    async def main():
        batcher = Batcher(predict, max_batch_size=1, max_wait_ms=0, max_queue=2)
        batcher.start()
        try:
            held = [asyncio.ensure_future(batcher.submit(i)) for i in range(2)]
            await asyncio.sleep(0)  # both take their places (submit reserves before its first await)
            with pytest.raises(QueueFull) as full:
                await batcher.submit(2)
            stats = dict(batcher.queue_stats)
            gate.set()
            return full.value, stats, await asyncio.gather(*held), batcher.queue_stats
        finally:
            await batcher.stop()

    full, stats, answers, after = asyncio.run(main())
    assert (full.depth, full.max_queue, full.count) == (2, 2, 1) and full.retry_after >= 1
    assert stats["queue_depth"] == 2 and stats["rejected"] == 1
    assert answers == [0, 1] and after["queue_depth"] == 0


def test_max_queue_must_be_a_positive_int():
    with pytest.raises(ValueError, match="max_queue=0"):
        Batcher(lambda xs: xs, max_queue=0)
