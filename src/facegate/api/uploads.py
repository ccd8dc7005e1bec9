"""Reading images out of requests: multipart files or base64 in JSON, within byte limits.

Two limits, both enforced *while* bytes arrive rather than after buffering everything:

- ``BodyLimit`` (ASGI middleware) refuses a request whose ``Content-Length`` is over
  ``api_max_request_bytes`` before reading any of it, and stops a chunked or lying upload the
  moment its running total passes the limit (413 ``too_large``).
- ``read_payload`` checks each image against ``max_upload_bytes`` (its decoded size for
  base64), and the engine's decoder checks the pixel count from the header before decoding.

The route handlers get a ``Payload`` and ask it for named images and values; whether those
came from a form or from JSON is decided here once.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.api.errors import BadRequest, TooLarge, UnsupportedMediaType, error_body
from facegate.errors import BadImage, InvalidInput

_CHUNK = 1 << 16


class BodyLimit:
    """ASGI middleware: no request body larger than ``limit`` bytes is ever read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, f"request body is {declared} bytes; the limit is {self.limit}")
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge(f"request body is over the limit of {self.limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps(error_body("too_large", message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Payload:
    """The fields of one request: uploaded files (raw bytes) and other values."""

    max_image_bytes: int
    files: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def images(self, name: str) -> list[tuple[str, bytes]]:
        """Every image under ``name`` as (label, bytes): uploaded files keep their file name,
        base64 strings are labelled ``name[i]``."""
        found = list(self.files.get(name, []))
        raw = self.values.get(name)
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        for i, item in enumerate(items):
            found.append((f"{name}[{i}]", self._decode(name, item)))
        return found

    def image(self, name: str) -> bytes:
        """The one image under ``name``; ``InvalidInput`` (422) when it is missing."""
        found = self.optional_image(name)
        if found is None:
            raise InvalidInput(f"field {name!r} is required: an image file or base64 string")
        return found

    def optional_image(self, name: str) -> bytes | None:
        """The one image under ``name``, or None when there is none."""
        found = self.images(name)
        if len(found) > 1:
            raise InvalidInput(f"field {name!r} must hold one image, not {len(found)}")
        return found[0][1] if found else None

    def _decode(self, name: str, item: object) -> bytes:
        if not isinstance(item, str):
            raise InvalidInput(f"field {name!r} must be a base64 string")
        text = item.strip()
        if text.startswith("data:") and "," in text:  # a browser's data: URL
            text = text.split(",", 1)[1]
        if len(text) * 3 // 4 > self.max_image_bytes + 3:
            raise TooLarge(f"image in {name!r} is over the limit of {self.max_image_bytes} bytes")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadImage(f"field {name!r} is not valid base64") from exc
        if len(data) > self.max_image_bytes:
            raise TooLarge(f"image in {name!r} is over the limit of {self.max_image_bytes} bytes")
        return data


async def read_payload(
    request: Request, *, max_image_bytes: int, max_files: int, file_fields: tuple[str, ...]
) -> Payload:
    """Parse a multipart or JSON request body into a ``Payload`` (415 for anything else)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    payload = Payload(max_image_bytes)
    if media == "application/json":
        body = await request.body()
        try:
            data = json.loads(body) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput("the JSON body must be an object")
        payload.values = data
        return payload
    if media != "multipart/form-data":
        raise UnsupportedMediaType(
            "send multipart/form-data (image files) or application/json (base64 images)"
        )
    try:
        form = await request.form(max_files=max_files, max_fields=50)
    except TooLarge:
        raise
    except Exception as exc:  # python-multipart's parse errors, Starlette's limits
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key not in file_fields:
                continue
            data = await _read_file(value, max_image_bytes, key)
            payload.files.setdefault(key, []).append((value.filename or key, data))
        else:
            payload.values[key] = value
    await form.close()
    return payload


async def _read_file(upload: UploadFile, limit: int, field_name: str) -> bytes:
    if upload.size is not None and upload.size > limit:
        raise TooLarge(f"file in {field_name!r} is {upload.size} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"file in {field_name!r} is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def int_value(payload: Payload, name: str) -> int | None:
    """An integer field from JSON or a form (forms send text)."""
    raw = payload.values.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidInput(f"field {name!r} must be an integer")
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"field {name!r} must be an integer") from exc
    if not 1 <= value < 2**63:
        raise InvalidInput(f"field {name!r} is out of range")
    return value
