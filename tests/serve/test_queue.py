"""The server's bounded queue, in process with a fake model that waits on an Event: a full queue answers 503
with ``Retry-After`` at once, ``/health`` shows the depth, uploads decode off the event loop's thread, and bad
inputs batched with good ones fail alone. No test waits on the clock: each blocks the model (or the decoder) on
an Event and polls ``/health`` until the state it needs is reached."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from flash.core.serving import InputError
from flash.errors import DataError
from flash.serve.app import create_app, default_max_queue

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
SAFETY_NET_S = 120  # only for a broken build: an Event nobody sets; never reached when the code is right


class FakePredictor:
    """A text 'model' that upper-cases; ``gate`` holds every forward pass, ``calls`` records each batch."""

    task, input_kind, labels = "fake_task", "text", None

    def __init__(self) -> None:
        self.gate, self.entered = threading.Event(), threading.Event()
        self.decode_gate: threading.Event | None = None
        self.decode_threads: list[int] = []
        self.calls: list[list[str]] = []

    def decode(self, data: bytes, *, name: str) -> str:
        self.decode_threads.append(threading.get_ident())
        text = data.decode()
        if text == "undecodable":
            raise InputError(f"Cannot read '{name}': not a text this model reads.")
        if text == "slow" and self.decode_gate is not None:
            assert self.decode_gate.wait(SAFETY_NET_S), "the decoder was never released"
        return text

    def encode(self, prediction: str) -> str:
        return prediction

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        self.calls.append(list(inputs))
        self.entered.set()
        assert self.gate.wait(SAFETY_NET_S), "the model was never released"
        if "poison" in inputs:
            raise DataError("the model cannot read 'poison'")
        return [text.upper() for text in inputs]

    def describe(self) -> dict:
        return {"task": self.task, "input": self.input_kind}


@contextlib.asynccontextmanager
async def serving(app):
    """The app's lifespan (the batcher's task) and an httpx client calling it in this event loop."""
    inner = app.app  # create_app wraps the FastAPI app in its body-size limit
    async with inner.router.lifespan_context(inner):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://flash") as client:
            yield client


async def health_until(client, condition) -> dict:
    """Poll ``/health`` (each poll also lets the other requests run) until ``condition(health)`` holds."""
    for _ in range(100_000):
        health = (await client.get("/health")).json()
        if condition(health):
            return health
        await asyncio.sleep(0)
    raise AssertionError(f"/health never reached the state the test waits for: {health}")


def post(client, *inputs):
    return asyncio.ensure_future(client.post("/predict", json={"inputs": list(inputs)}))


def test_a_full_queue_answers_503_with_retry_after_at_once_and_health_shows_the_depth():
    predictor = FakePredictor()
    app = create_app(predictor, max_batch_size=1, max_wait_ms=0, max_queue=2)

    async def main():
        async with serving(app) as client:
            start = (await client.get("/health")).json()
            assert (start["queue_depth"], start["max_queue"], start["rejected"]) == (0, 2, 0)
            first = post(client, "a")
            assert await asyncio.to_thread(predictor.entered.wait, SAFETY_NET_S)  # "a" is in the blocked model
            second = post(client, "b")
            await health_until(client, lambda h: h["queue_depth"] == 2 and h["queue_waiting"] == 1)  # "b" decoded
            full = await client.post("/predict", json={"inputs": ["c"]})  # answered while the model is blocked
            after = (await client.get("/health")).json()
            predictor.gate.set()
            answers = [await first, await second]
            return full, after, answers, (await client.get("/health")).json()

    full, after, answers, drained = asyncio.run(main())
    assert full.status_code == 503, full.text
    assert full.headers["Retry-After"].isdigit() and int(full.headers["Retry-After"]) >= 1
    detail = full.json()["detail"]  # the shape of every other error: {"detail": "..."}
    assert "queue holds 2 of at most 2 inputs" in detail and "--max-queue" in detail and "replicas" in detail
    assert after["queue_depth"] == 2 and after["max_queue"] == 2 and after["rejected"] == 1
    assert [a.json() for a in answers] == [[{"input": "inputs[0]", "prediction": "A"}],
                                           [{"input": "inputs[0]", "prediction": "B"}]]
    assert drained["queue_depth"] == 0 and drained["queue_waiting"] == 0


def test_a_request_larger_than_the_queue_is_413_naming_the_fix():
    app = create_app(FakePredictor(), max_batch_size=1, max_queue=2)

    async def main():
        async with serving(app) as client:
            return await client.post("/predict", json={"inputs": ["a", "b", "c"]})

    response = asyncio.run(main())
    assert response.status_code == 413 and "at most 2 per request" in response.json()["detail"]
    assert "--max-queue" in response.json()["detail"]


def test_the_default_queue_is_four_batches_and_holds_one_full_request():
    assert default_max_queue(16) == 64 and default_max_queue(32) == 128 and default_max_queue(1) == 64


def test_uploads_decode_off_the_event_loop_which_keeps_answering_meanwhile():
    predictor = FakePredictor()
    predictor.gate.set()
    predictor.decode_gate = threading.Event()
    app = create_app(predictor, max_batch_size=4, max_wait_ms=0)

    async def main():
        loop_thread = threading.get_ident()
        async with serving(app) as client:
            slow = post(client, "slow")  # its decoder waits on decode_gate
            health = await health_until(client, lambda h: h["queue_depth"] == 1)  # answered while it decodes
            assert not slow.done() and predictor.decode_threads  # the decoder has started
            predictor.decode_gate.set()
            form = await client.post("/predict", data={"text": ["fine"]})
            return loop_thread, health, await slow, form

    loop_thread, health, slow, form = asyncio.run(main())
    assert slow.json() == [{"input": "inputs[0]", "prediction": "SLOW"}] and health["status"] == "ok"
    assert form.json() == [{"input": "text", "prediction": "FINE"}]
    assert len(predictor.decode_threads) == 2 and loop_thread not in predictor.decode_threads


def test_bad_inputs_batched_with_good_ones_get_a_4xx_each_and_the_good_ones_their_answers():
    predictor = FakePredictor()
    app = create_app(predictor, max_batch_size=8, max_wait_ms=0, max_queue=16)

    async def main():
        async with serving(app) as client:
            blocker = post(client, "a")
            assert await asyncio.to_thread(predictor.entered.wait, SAFETY_NET_S)
            queued = [post(client, text) for text in ("b", "poison", "c")]  # these three share the next batch
            refused = [post(client, "undecodable"), post(client, 7)]
            await health_until(client, lambda h: h["queue_waiting"] == 3 and h["queue_depth"] == 4)
            predictor.gate.set()
            return await blocker, [await q for q in queued], [await r for r in refused]

    blocker, (good_b, poison, good_c), (undecodable, not_text) = asyncio.run(main())
    assert blocker.json()[0]["prediction"] == "A"
    assert good_b.json()[0]["prediction"] == "B" and good_c.json()[0]["prediction"] == "C"
    assert poison.status_code == 422 and "the model cannot read 'poison'" in poison.json()["detail"]
    assert undecodable.status_code == 415 and "Cannot read 'inputs[0]'" in undecodable.json()["detail"]
    assert not_text.status_code == 422 and "inputs[0] must be a string" in not_text.json()["detail"]
    assert sorted(predictor.calls[1]) == ["b", "c", "poison"]  # one batch, then each input alone
    assert sorted(map(tuple, predictor.calls[2:])) == [("b",), ("c",), ("poison",)]
