"""Reading images out of requests: multipart files or base64 in JSON, within byte limits.

Limits are enforced *while* bytes arrive rather than after buffering everything:

- the request gate (``api/gate.py``) lets a body grow past ``api_max_body_bytes`` only for
  routes that read images: ``read_payload`` raises it to ``api_max_request_bytes`` before it
  reads; a ``Content-Length`` over the limit is refused before reading, a chunked or lying
  upload the moment its running total passes it (413 ``too_large``).
- ``read_payload`` checks each image against ``max_upload_bytes`` (its decoded size for
  base64), and the engine's decoder checks the pixel count from the header before decoding.
- JSON is parsed strictly (``api/jsonbody.py``) on a worker thread, never on the event loop.

The route handlers get a ``Payload`` and ask it for named images and values; whether those
came from a form or from JSON is decided here once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from facegate.api.errors import BadRequest, TooLarge, UnsupportedMediaType
from facegate.api.gate import allow_image_body
from facegate.api.jsonbody import parse_json_async
from facegate.errors import BadImage, InvalidInput

_CHUNK = 1 << 16


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

    def count(self, name: str) -> int:
        """How many images are under ``name`` (without decoding any base64)."""
        raw = self.values.get(name)
        items = len(raw) if isinstance(raw, list) else 0 if raw is None else 1
        return len(self.files.get(name, [])) + items

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
    allow_image_body(request)
    if media == "application/json":
        body = await request.body()
        data = await parse_json_async(body) if body else None
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
    except (TooLarge, HTTPException):  # the gate's limits answer for themselves
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
