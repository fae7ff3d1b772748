"""Read an HTML form request (``multipart/form-data`` or ``application/x-www-form-urlencoded``) as raw bytes.

Starlette's form parser decodes text fields itself, silently (bytes that are not UTF-8 become Latin-1 or
replacement characters), so the server could not refuse them as it refuses the same bytes uploaded as a file.
Here every part keeps its bytes, and the server decodes text fields and files alike. Parts are held in memory
(the request's size is bounded by the server's ``--max-request-bytes``); nothing is written to disk.

Example:
    >>> urlencoded(b"text=a+good+film&text=%FF", max_parts=8)
    [FormPart(name='text', data=b'a good film', is_file=False), FormPart(name='text', data=b'\\xff', is_file=False)]
"""

from __future__ import annotations

import urllib.parse
from typing import Any, NamedTuple

from flash.errors import require
from flash.serve.inputs import RequestError


class FormPart(NamedTuple):
    """One form part: its name (a file's name, else the field's), its bytes, and whether it is a file upload."""

    name: str
    data: bytes
    is_file: bool


def _too_many(max_parts: int) -> RequestError:
    return RequestError(f"At most {max_parts} inputs per request. Received: more than {max_parts} form parts",
                        status=413)


def _label(raw: bytes) -> str:
    """A field or file name as text (UTF-8, else Latin-1, as browsers and Starlette do): names only label answers."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def urlencoded(body: bytes, *, max_parts: int) -> list[FormPart]:
    """``a=1&b=2`` -> its fields, names and values percent-decoded to bytes (values are never decoded as text here)."""
    pairs = [pair.partition(b"=") for pair in body.split(b"&") if pair]
    if len(pairs) > max_parts:
        raise _too_many(max_parts)

    def unquote(raw: bytes) -> bytes:
        return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" "))

    return [FormPart(_label(unquote(name)), unquote(value), False) for name, _, value in pairs]


class _MultipartParts:
    """python-multipart's callbacks, collecting each part's headers and bytes."""

    def __init__(self, max_parts: int, *, parse_options_header: Any) -> None:
        self.parts: list[FormPart] = []
        self.max_parts, self.parse_options_header = max_parts, parse_options_header
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value, self._data = b"", b"", bytearray()

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks (a TypedDict)
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_part_data": self._part_data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._headers, self._data = {}, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _end(self) -> None:
        _, options = self.parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise RequestError('The form cannot be read: a part has no name (Content-Disposition: form-data; '
                               'name="files"; filename="cat.png").')
        if len(self.parts) >= self.max_parts:
            raise _too_many(self.max_parts)
        is_file = b"filename" in options
        name = _label(options[b"filename"]) if is_file else ""
        self.parts.append(FormPart(name or _label(options[b"name"]), bytes(self._data), is_file))


async def read_form(request: Any, *, max_parts: int) -> list[FormPart]:
    """The parts of a form request (a Starlette ``Request``), in order; 400 when the body is not a valid form."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return urlencoded(await request.body(), max_parts=max_parts)
    require("python_multipart", "serve", purpose="reading form uploads (python-multipart>=0.0.13)")
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise RequestError("The form cannot be read: its Content-Type has no boundary. Let the HTTP client set the "
                           f"multipart Content-Type. Received: Content-Type={content_type!r}")
    parts = _MultipartParts(max_parts, parse_options_header=parse_options_header)
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except RequestError:
        raise
    except Exception as err:  # noqa: BLE001 - python-multipart raises MultipartParseError and others on a broken body
        raise RequestError(f"The form cannot be read: {err}.") from None
    return parts.parts
