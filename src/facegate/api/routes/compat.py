"""``POST /face/image/detect``: the base64 JSON API that seed 002's clients call.

Those clients send ``{"img": "<base64>"}`` and read ``code`` from the JSON body, expecting
HTTP 200 whatever happened: 200 with ``name`` for a match, 201 when nobody in the gallery
matches, 202 when ``img`` is missing, 203 when the image holds no face. facegate answers the
same way on top of its own engine (the subject is the most prominent face, as the largest face
was there). An image that cannot be decoded is reported as 203 too: no face can be found in it.
Outside that contract: a missing or wrong key still answers 401 (unless ``api_compat_open``),
a full inference queue 503, a gallery built by another model 409 (``model_mismatch``).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Request

from facegate.api.auth import require
from facegate.api.errors import BadRequest
from facegate.api.gate import COMPAT_PATH, allow_image_body
from facegate.api.jsonbody import parse_json_async
from facegate.api.routes.deps import metrics, services
from facegate.api.schemas import CompatResult, error_responses
from facegate.errors import BadImage, ImageTooLarge, NoFace
from facegate.services import Services

router = APIRouter(
    tags=["compatibility"],
    dependencies=[Depends(require("recognize", open_if=lambda settings: settings.api.compat_open))],
)

_MISSING = "required parameter img is missing: send the image as a base64 string"
_NO_FACE = "no face found in the image"
_NOBODY = "nobody in the gallery matches this face"


def _recognise(svc: Services, data: bytes) -> tuple[int, str | None]:
    """(code, name) for the subject of the photo (``ModelMismatch``, answered 409, for a
    gallery built by another model: the same check as every other route)."""
    match = svc.recognition.identify_subject(data).match
    if match.person is None:
        return 201, None
    return 200, match.person.name


@router.post(
    COMPAT_PATH,
    response_model=CompatResult,
    responses=error_responses(401, 403, 409, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"img": {"type": "string"}}}
                }
            },
        }
    },
)
async def face_image_detect(request: Request) -> dict[str, object]:
    """Seed-002 compatibility: ``{"img": base64}`` → ``{"code", "msg", "name"}``, HTTP 200."""
    svc = services(request)
    allow_image_body(request)
    body = await request.body()
    try:
        payload = await parse_json_async(body) if body else {}
    except BadRequest:
        payload = {}
    img = payload.get("img") if isinstance(payload, dict) else None
    if not isinstance(img, str) or not img.strip():
        return {"code": 202, "msg": _MISSING, "name": None}
    try:
        data = base64.b64decode(img.split(",", 1)[-1] if img.startswith("data:") else img)
    except (binascii.Error, ValueError):
        return {
            "code": 203,
            "msg": "img is not valid base64, so no face can be found",
            "name": None,
        }
    if len(data) > svc.settings.limits.max_upload_bytes:
        return {"code": 203, "msg": "image is over the upload limit", "name": None}
    try:
        code, name = await svc.inference.run(_recognise, svc, data)
    except NoFace:
        return {"code": 203, "msg": _NO_FACE, "name": None}
    except (BadImage, ImageTooLarge) as exc:
        return {"code": 203, "msg": f"{_NO_FACE}: {exc}", "name": None}
    metrics(request).faces.labels("identify").inc()
    if code == 201:
        return {"code": 201, "msg": _NOBODY, "name": None}
    return {"code": 200, "msg": "search success", "name": name}
