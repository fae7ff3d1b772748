"""Form requests in-process (FastAPI's TestClient, a model that echoes its texts): text fields are read as bytes, so
a field that is not UTF-8 is refused (415, naming the field) exactly as the same bytes uploaded as a file or sent
as JSON are, and valid fields, files and their names arrive unchanged.
"""

from __future__ import annotations

import pytest

from flash.serve.base import Predictor
from flash.tasks import ENTRIES

pytest.importorskip("fastapi")
testclient = pytest.importorskip("fastapi.testclient")

TEXT_ENTRY = next(entry for entry in ENTRIES if entry.adapter("serve").input_kind == "text")
NOT_UTF8 = "café".encode("latin-1")  # b"caf\xe9": Latin-1, not UTF-8


class Echo(Predictor):
    """The text task's serve adapter in front of a 'model' that answers with what it was given."""

    runtime = "echo"

    def __init__(self) -> None:
        super().__init__(TEXT_ENTRY, settings={}, labels=None)

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        self.forward_calls += 1
        return [f"echo: {text}" for text in inputs]


@pytest.fixture(scope="module")
def client():
    from flash.serve.app import create_app

    with testclient.TestClient(create_app(Echo(), max_wait_ms=1)) as client:
        yield client


def _multipart(*parts: tuple[bytes, bytes]) -> dict:
    """A multipart body by hand (clients encode text fields as UTF-8 themselves): ``(disposition, data)`` parts."""
    body = b"".join(b"--XyZ\r\nContent-Disposition: form-data; " + disposition + b"\r\n\r\n" + data + b"\r\n"
                    for disposition, data in parts) + b"--XyZ--\r\n"
    return {"content": body, "headers": {"content-type": "multipart/form-data; boundary=XyZ"}}


@pytest.mark.parametrize("request_kwargs, name", [
    (_multipart((b'name="text"', NOT_UTF8)), "text"),
    ({"content": b"review=caf%E9", "headers": {"content-type": "application/x-www-form-urlencoded"}}, "review"),
    (_multipart((b'name="files"; filename="review.txt"', NOT_UTF8)), "review.txt"),
    ({"content": b'{"inputs": ["caf\\udce9"]}', "headers": {"content-type": "application/json"}}, "inputs[0]"),
])
def test_text_that_is_not_utf8_is_refused_as_a_field_a_file_or_json(client, request_kwargs, name):
    response = client.post("/predict", **request_kwargs)
    assert response.status_code == 415, response.text
    assert f"Text '{name}' is not UTF-8" in response.json()["detail"] and "Send UTF-8 text" in response.json()["detail"]
    assert client.post("/predict", **_multipart((b'name="text"', "café".encode()))).status_code == 200


def test_a_json_body_that_is_not_utf8_is_refused_too(client):
    response = client.post("/predict", content=b'{"inputs": ["' + NOT_UTF8 + b'"]}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]


def test_form_fields_and_files_arrive_unchanged_in_order(client):
    response = client.post("/predict", **_multipart((b'name="text"', " café ".encode()),
                                                    (b'name="files"; filename="a.txt"', "naïve\n".encode()),
                                                    (b'name="files"; filename=""', b"no file name")))
    assert response.status_code == 200, response.text
    assert response.json() == [{"input": "text", "prediction": "echo: café"},
                               {"input": "a.txt", "prediction": "echo: naïve"},
                               {"input": "files", "prediction": "echo: no file name"}]
    encoded = client.post("/predict", data={"text": ["a good film", "ünïcode"]})
    assert [a["prediction"] for a in encoded.json()] == ["echo: a good film", "echo: ünïcode"]


@pytest.mark.parametrize("request_kwargs, status, message", [
    (_multipart((b'name="text"', b"   ")), 422, "Text 'text' is empty"),
    (_multipart((b'name="files"; filename="empty.txt"', b"")), 422, "Upload 'empty.txt' is empty"),
    (_multipart((b'filename="nameless.txt"', b"x")), 400, "a part has no name"),
    ({"content": b"--XyZ\r\nbroken", "headers": {"content-type": "multipart/form-data"}}, 400, "has no boundary"),
    ({"content": "&".join(["text=x"] * 65).encode(),
      "headers": {"content-type": "application/x-www-form-urlencoded"}}, 413, "At most 64 inputs"),
])
def test_bad_forms_are_named(client, request_kwargs, status, message):
    response = client.post("/predict", **request_kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
