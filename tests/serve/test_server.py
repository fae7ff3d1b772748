"""Real servers in subprocesses (``flash serve`` and ``model.serve()``), real HTTP clients (httpx), every task.

The servers of this module start together (their start-up overlaps) and stop in the last test, which also
checks that they exit cleanly (status 0 after SIGINT / SIGTERM) and that no request left a file in their working
folder or TMPDIR.
"""

from __future__ import annotations

import base64
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from flash.core.task import Task
from flash.serve import export

from .conftest import write_images

httpx = pytest.importorskip("httpx")
LIMIT = 100_000
CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"  # Debian's package; .ci/run installs it


@pytest.fixture(scope="module")
def servers(start_server, image_checkpoint, text_checkpoint, detection_checkpoint, speech_checkpoint,
            tmp_path_factory):
    onnx = export(Task.load_from_checkpoint(str(image_checkpoint)), tmp_path_factory.mktemp("onnx") / "image.onnx")
    return {
        "image": start_server(image_checkpoint, "--max-request-bytes", str(LIMIT)),
        "batching": start_server(image_checkpoint, "--max-batch-size", "4", "--max-wait-ms", "30000"),
        "text": start_server(text_checkpoint, api=True),
        "detection": start_server(detection_checkpoint),
        "speech": start_server(speech_checkpoint),
        "onnx": start_server(onnx),
    }


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("client_images"), 24, seed=7)


def post_files(server, paths, *, params=None, mime="image/png"):
    files = [("files", (p.name, p.read_bytes(), mime)) for p in paths]
    return httpx.post(f"{server.url}/predict", files=files, params=params, timeout=300)


def test_health_openapi_docs_and_page(servers):
    server = servers["image"].wait()
    health = server.get("/health")
    assert health["status"] == "ok" and health["task"] == "image_classification" and health["runtime"] == "torch"
    assert health["queue_depth"] == 0 and health["max_queue"] == 64 and health["rejected"] == 0  # the default queue
    spec = server.get("/openapi.json")
    assert {"/predict", "/health", "/"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert "swagger" in httpx.get(f"{server.url}/docs", timeout=300).text.lower()
    page = httpx.get(server.url, timeout=300)
    assert page.headers["content-type"].startswith("text/html") and "/predict" in page.text


def test_concurrent_clients_each_get_their_own_answer(servers, images, image_checkpoint):
    server = servers["image"].wait()
    model = Task.load_from_checkpoint(str(image_checkpoint))
    expected = model.predict([str(p) for p in images], output="probabilities")

    def ask(path):
        response = post_files(server, [path], params={"output": "probabilities"})
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, images))
    for path, answer, want in zip(images, answers, expected):
        assert [a["input"] for a in answer] == [path.name]
        np.testing.assert_allclose(answer[0]["prediction"], want, atol=1e-5)
    several = post_files(server, images[:3]).json()  # one request, three files: three answers in order
    assert several == [{"input": p.name, "prediction": label} for p, label in
                       zip(images[:3], model.predict([str(p) for p in images[:3]]))]
    encoded = {"inputs": [base64.b64encode(images[0].read_bytes()).decode()]}
    as_json = httpx.post(f"{server.url}/predict", json=encoded, timeout=300).json()
    assert as_json == [{"input": "inputs[0]", "prediction": several[0]["prediction"]}]


def test_concurrent_requests_share_forward_passes(servers, images, image_checkpoint):
    server = servers["batching"].wait()  # max batch 4; a batch waits up to 30 s for company (a safety net)
    before = server.get("/health")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: post_files(server, [p]).json(), images[:8]))
    after = server.get("/health")
    assert after["forward_calls"] - before["forward_calls"] == 2  # 8 requests, 2 forward passes of 4
    assert after["batches"] - before["batches"] == 2 and after["largest_batch"] == 4
    labels = Task.load_from_checkpoint(str(image_checkpoint)).predict([str(p) for p in images[:8]])
    assert [a[0]["prediction"] for a in answers] == labels


@pytest.mark.parametrize("request_kwargs, status, message", [
    ({"files": [("files", ("notes.png", b"hello, not an image", "image/png"))]}, 415, "'notes.png' is not an image"),
    ({"files": [("files", ("empty.png", b"", "image/png"))]}, 422, "'empty.png' is empty"),
    ({"files": [("files", ("big.png", b"x" * (LIMIT + 1), "image/png"))]}, 413, f"limit of {LIMIT} bytes"),
    ({"json": {"inputs": ["%%% not base64"]}}, 422, "inputs[0] is neither valid base64"),
    ({"json": {"inputs": ["http://example.com/cat.png"]}}, 400, "does not fetch URLs"),
    ({"json": {"inputs": []}}, 400, "holds no inputs"),
    ({"json": {"images": []}}, 400, "Received: ['images']"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
    ({"content": b"cat", "headers": {"content-type": "text/plain"}}, 415, "Content-Type='text/plain'"),
    ({"params": {"output": "probabilitys"}, "json": {"inputs": ["iVBORw0KGgo="]}}, 415, "is not an image"),
])
def test_bad_requests_get_a_4xx_json_error_and_the_server_keeps_serving(servers, images, request_kwargs, status,
                                                                        message):
    server = servers["image"].wait()
    response = httpx.post(f"{server.url}/predict", timeout=300, **request_kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert post_files(server, images[:1]).status_code == 200


def test_an_unknown_output_type_names_the_choices(servers, images):
    response = post_files(servers["image"].wait(), images[:1], params={"output": "probabilitys"})
    assert response.status_code == 422 and "Did you mean 'probabilities'" in response.json()["detail"]


def test_text_server_started_by_model_serve(servers, text_checkpoint):
    server = servers["text"].wait()
    model = Task.load_from_checkpoint(str(text_checkpoint))
    texts = ["a good film", "dull and boring plot", "great fun", "awful acting", "lovely", "bad"]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda t: httpx.post(f"{server.url}/predict", json={"input": t}, timeout=300).json(),
                                texts))
    assert [a[0]["prediction"] for a in answers] == model.predict(texts)
    form = httpx.post(f"{server.url}/predict", data={"text": texts[:2]}, timeout=300).json()
    assert [a["prediction"] for a in form] == model.predict(texts[:2])
    empty = httpx.post(f"{server.url}/predict", json={"inputs": ["   "]}, timeout=300)
    assert empty.status_code == 422 and "'inputs[0]' is empty" in empty.json()["detail"]


def test_text_server_refuses_text_that_is_not_utf8_as_a_form_field_as_it_does_as_a_file(servers):
    server = servers["text"].wait()
    latin1 = "café".encode("latin-1")
    body = b'--B\r\nContent-Disposition: form-data; name="review"\r\n\r\n' + latin1 + b"\r\n--B--\r\n"
    field = httpx.post(f"{server.url}/predict", content=body, timeout=300,
                       headers={"content-type": "multipart/form-data; boundary=B"})
    assert field.status_code == 415 and "Text 'review' is not UTF-8" in field.json()["detail"]
    upload = httpx.post(f"{server.url}/predict", files={"files": ("review.txt", latin1, "text/plain")}, timeout=300)
    assert upload.status_code == 415 and "Text 'review.txt' is not UTF-8" in upload.json()["detail"]


def test_detection_server_returns_boxes_in_the_uploaded_images_pixels(servers, detection_checkpoint, tmp_path):
    server = servers["detection"].wait()
    paths = write_images(tmp_path, 2, seed=5, size=40)
    expected = Task.load_from_checkpoint(str(detection_checkpoint)).predict([str(p) for p in paths])
    answers = post_files(server, paths).json()
    for answer, want in zip(answers, expected):
        assert answer["prediction"]["labels"] == want["labels"] and want["labels"]
        np.testing.assert_allclose(answer["prediction"]["boxes"], want["boxes"], atol=1e-3)


def test_speech_server_transcribes_uploads_and_refuses_non_audio(servers, speech_checkpoint, speech_files):
    server = servers["speech"].wait()
    expected = Task.load_from_checkpoint(str(speech_checkpoint)).predict(speech_files[:3])
    answers = post_files(server, [Path(f) for f in speech_files[:3]], mime="audio/wav").json()
    assert [a["prediction"] for a in answers] == expected
    bad = httpx.post(f"{server.url}/predict", files={"files": ("noise.wav", b"RIFF....", "audio/wav")}, timeout=300)
    assert bad.status_code == 415 and "Cannot read audio 'noise.wav'" in bad.json()["detail"]


def test_onnx_model_served_with_onnxruntime_gives_the_same_labels(servers, images, image_checkpoint):
    server = servers["onnx"].wait()
    assert server.get("/health")["runtime"] == "onnxruntime"
    answers = post_files(server, images[:6]).json()
    expected = Task.load_from_checkpoint(str(image_checkpoint)).predict([str(p) for p in images[:6]])
    assert [a["prediction"] for a in answers] == expected


def test_page_in_headless_chromium_shows_the_label_of_an_uploaded_image(servers, images, image_checkpoint, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium-headless-shell (.ci/run does)")
    server = servers["image"].wait()
    expected = Task.load_from_checkpoint(str(image_checkpoint)).predict(str(images[1]))
    (tmp_path / "notes.png").write_bytes(b"not an image")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 800, "height": 560})
        page.goto(server.url)
        sync_api.expect(page.locator("#title")).to_have_text("flash: image classification", timeout=300_000)
        page.set_input_files("#file", str(tmp_path / "notes.png"))
        sync_api.expect(page.locator("#error")).to_contain_text("'notes.png' is not an image", timeout=300_000)
        page.set_input_files("#file", str(images[1]))
        sync_api.expect(page.locator("#result")).to_have_text(expected, timeout=300_000)
        sync_api.expect(page.locator("#error")).to_have_text("")
        page.screenshot(path=os.environ.get("FLASH_SERVE_SCREENSHOT", str(tmp_path / "page.png")))
        browser.close()


def test_servers_shut_down_cleanly_and_leave_no_files(servers):
    for name, server in servers.items():
        server.wait()
        server.process.send_signal(signal.SIGINT if name == "text" else signal.SIGTERM)
        assert server.stop() == 0, server.output()
        assert "Server stopped." in server.output()
        assert server.files() == server.files_at_start, name  # no request left anything on disk
