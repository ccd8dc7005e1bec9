"""``/api/v1/identify``, ``/api/v1/verify``, ``/api/v1/detect``: who, same person, where;
``/api/v1/gallery/status``: the operating point (threshold in use, target FPIR, gallery size).

Each takes one image as a multipart file (field ``image``) or base64 JSON (``{"image": ...}``).
The model work runs on the shared inference pool; a full queue answers 503 ``busy`` at once.
``identify?annotate=true`` answers the image itself with boxes and names drawn on it.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.deps import metrics, services
from facegate.api.schemas import (
    ONE_IMAGE_BODY,
    VERIFY_BODY,
    DetectResult,
    GalleryStatus,
    IdentifyResult,
    VerifyResult,
    error_responses,
)
from facegate.api.uploads import Payload, int_value, read_payload
from facegate.engine.draw import Label, draw_labels, encode_jpeg
from facegate.errors import InvalidInput
from facegate.recognition import IdentifiedFace
from facegate.services import Services
from facegate.summaries import face_summary, identified_summary

router = APIRouter(
    prefix="/api/v1",
    tags=["recognition"],
    dependencies=[Depends(require("recognize")), Depends(api_key_header), Depends(bearer)],
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
)


async def _payload(request: Request, fields: tuple[str, ...]) -> Payload:
    settings = services(request).settings
    return await read_payload(
        request, max_image_bytes=settings.limits.max_upload_bytes, max_files=3, file_fields=fields
    )


def _identify(svc: Services, data: bytes) -> tuple[np.ndarray, list[IdentifiedFace]]:
    image = svc.engine.load(data)
    return image, svc.recognition.identify_image(image)


def annotate(svc: Services, image: np.ndarray, found: list[IdentifiedFace]) -> bytes:
    """The image as JPEG with each face boxed and named ("?" for somebody unknown)."""
    labels = [
        Label(
            f.face.box,
            f"{f.match.person.name} {f.match.score:.2f}" if f.match.person else "?",
            f.match.person is not None,
        )
        for f in found
    ]
    return encode_jpeg(draw_labels(image, labels, svc.settings.api.font_path))


@router.post(
    "/identify",
    response_model=IdentifyResult,
    openapi_extra=ONE_IMAGE_BODY,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def identify(
    request: Request,
    annotate_image: Annotated[
        bool, Query(alias="annotate", description="answer with the image, boxes and names drawn")
    ] = False,
    fmt: Annotated[
        Literal["jpeg", "json"],
        Query(alias="format", description="with annotate: the JPEG itself, or JSON with it"),
    ] = "jpeg",
) -> object:
    """Every face in the image: box, landmarks, quality, and the person (``null`` when the face
    matches nobody enrolled) with the match score; the top candidates for admin keys only."""
    svc = services(request)
    key = getattr(request.state, "key", None)  # set by require(); None with auth off
    candidates = key is None or key.scope == "admin"
    data = (await _payload(request, ("image",))).image("image")
    jpeg = None
    if annotate_image:
        image, found = await svc.inference.run(_identify, svc, data)
        jpeg = await svc.inference.run(annotate, svc, image, found)
    else:  # only the faces are needed: a large JPEG is decoded at reduced scale
        found = await svc.inference.run(svc.recognition.identify, data)
    metrics(request).faces.labels("identify").inc(len(found))
    if jpeg is not None and fmt == "jpeg":
        return Response(jpeg, media_type="image/jpeg")
    return {
        "faces": [identified_summary(f, candidates=candidates) for f in found],
        "threshold": svc.recognition.threshold,
        "annotated_image": base64.b64encode(jpeg).decode() if jpeg is not None else None,
    }


@router.post("/verify", response_model=VerifyResult, openapi_extra=VERIFY_BODY)
async def verify(request: Request) -> dict[str, object]:
    """1:1: is the subject of ``image`` the same person as in ``image_b``, or as the enrolled
    person ``person_id``? Exactly one of the two must be given."""
    svc = services(request)
    payload = await _payload(request, ("image", "image_b"))
    image = payload.image("image")
    other = payload.optional_image("image_b")
    person_id = int_value(payload, "person_id")
    if person_id is not None and other is None:
        result = await svc.inference.run(svc.recognition.verify_person, image, person_id)
    elif other is not None and person_id is None:
        result = await svc.inference.run(svc.recognition.verify_images, image, other)
    else:
        raise InvalidInput("give either image_b (a second photo) or person_id, not both")
    metrics(request).faces.labels("verify").inc(len(result.faces))
    return {
        "same_person": result.same_person,
        "similarity": round(result.similarity, 4),
        "threshold": result.threshold,
        "person_id": person_id,
        "faces": [face_summary(f) for f in result.faces],
    }


@router.post("/detect", response_model=DetectResult, openapi_extra=ONE_IMAGE_BODY)
async def detect(request: Request) -> dict[str, object]:
    """Every face in the image with box, landmarks, detector score and quality (no matching)."""
    svc = services(request)
    data = (await _payload(request, ("image",))).image("image")
    faces = await svc.inference.run(svc.engine.analyze_source, data)
    metrics(request).faces.labels("detect").inc(len(faces))
    return {"faces": [face_summary(f) for f in faces]}


@router.get("/gallery/status", response_model=GalleryStatus)
def gallery_status(request: Request) -> dict[str, object]:
    """The open-set operating point: how many people are enrolled, the identify threshold
    derived for that many at the target FPIR, and the 1:1 threshold (a short DB read, so a
    plain ``def`` handler, off the event loop)."""
    return services(request).gallery.status()
