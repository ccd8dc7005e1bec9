"""``/api/v1/people``: create, list, read, update and delete people; enrol their faces.

Database calls are short and blocking, so these handlers are plain ``def`` (FastAPI runs them
on its thread pool, off the event loop). Enrolment is model work and goes through the shared
inference pool like every other image.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.errors import error_response
from facegate.api.routes.deps import metrics, services
from facegate.api.schemas import (
    ENROL_BODY,
    MAX_ID,
    Deleted,
    EnrolResult,
    MergeBody,
    Offset,
    PeoplePage,
    PersonCreate,
    PersonCreated,
    PersonDetail,
    PersonOut,
    PersonUpdate,
    error_responses,
)
from facegate.api.uploads import read_payload
from facegate.enrol_checks import same_name
from facegate.errors import InvalidInput
from facegate.gallery import Template
from facegate.summaries import person_summary

router = APIRouter(
    prefix="/api/v1",
    tags=["people"],
    dependencies=[Depends(require("admin")), Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 422),
)

PersonId = Annotated[int, Path(ge=1, le=MAX_ID, description="person id")]
TemplateId = Annotated[int, Path(ge=1, le=MAX_ID, description="face template id")]


def _face(t: Template) -> dict[str, Any]:
    return {
        "template_id": t.id,
        "quality": dict(t.quality),
        "created_at": t.created_at.isoformat(),
        "thumbnail_url": f"/api/v1/faces/{t.id}/thumbnail" if t.has_thumbnail else None,
    }


@router.post(
    "/people",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonCreated,
    responses=error_responses(409),
)
def create_person(body: PersonCreate, request: Request) -> dict[str, object]:
    """Create a person (no faces yet); ``external_id`` is your own key and must be unique.
    ``warnings`` has ``same_name`` (with the ids) when somebody already has this name."""
    gallery = services(request).gallery
    person = gallery.create_person(
        body.name.strip(), external_id=body.external_id, metadata=body.metadata
    )
    warning = same_name(gallery, person.name, exclude=person.id)
    return {**person_summary(person), "warnings": [warning.as_dict()] if warning else []}


@router.get("/people", response_model=PeoplePage)
def list_people(
    request: Request,
    q: Annotated[str | None, Query(max_length=200, description="part of name/external id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    """People ordered by name, a page at a time; ``q`` searches names and external ids."""
    page = services(request).gallery.list_people(q or None, limit=limit, offset=offset)
    return {
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "people": [person_summary(p) for p in page.items],
    }


@router.get("/people/{person_id}", response_model=PersonDetail, responses=error_responses(404))
def get_person(person_id: PersonId, request: Request) -> dict[str, object]:
    """A person with their enrolled faces (quality and thumbnail link, never embeddings)."""
    gallery = services(request).gallery
    person = gallery.get_person(person_id)
    faces = [_face(t) for t in gallery.list_templates(person_id)]
    return {**person_summary(person), "faces": faces}


class _PersonChanges(TypedDict, total=False):
    """The keyword arguments of ``Gallery.update_person`` that a PATCH sets."""

    name: str
    external_id: str | None
    metadata: dict[str, Any]


@router.patch(
    "/people/{person_id}", response_model=PersonCreated, responses=error_responses(404, 409)
)
def update_person(person_id: PersonId, body: PersonUpdate, request: Request) -> dict[str, object]:
    """Change (rename) the name, external id (``null`` clears it) or metadata (replaced
    whole). ``warnings`` has ``same_name`` when the new name is somebody else's too."""
    changes: _PersonChanges = {}
    fields = body.model_fields_set
    if "name" in fields:
        if body.name is None:
            raise InvalidInput("name cannot be null")
        changes["name"] = body.name.strip()
    if "external_id" in fields:
        changes["external_id"] = body.external_id
    if "metadata" in fields:
        changes["metadata"] = body.metadata or {}
    gallery = services(request).gallery
    person = (
        gallery.update_person(person_id, **changes) if changes else gallery.get_person(person_id)
    )
    warning = same_name(gallery, person.name, exclude=person.id) if "name" in changes else None
    return {**person_summary(person), "warnings": [warning.as_dict()] if warning else []}


@router.post("/people/{person_id}/merge", response_model=PersonOut, responses=error_responses(404))
def merge_person(person_id: PersonId, body: MergeBody, request: Request) -> dict[str, object]:
    """Merge this person INTO ``into`` (two records of one person): faces, attendance, door
    events and group memberships move to ``into``, then this person is deleted. Every worker's
    index follows at its next revision check. Cannot be undone."""
    if body.into == person_id:
        raise InvalidInput("cannot merge a person into themselves")
    return person_summary(services(request).gallery.merge_people(person_id, body.into))


@router.delete("/people/{person_id}", response_model=Deleted, responses=error_responses(404))
def delete_person(person_id: PersonId, request: Request) -> dict[str, int]:
    """Erase a person with all their templates and thumbnails (cannot be undone)."""
    erased = services(request).gallery.delete_person(person_id)
    return {"deleted": person_id, "templates_erased": erased}


@router.post(
    "/people/{person_id}/faces",
    response_model=EnrolResult,
    openapi_extra=ENROL_BODY,
    responses=error_responses(400, 404, 413, 415, 503),
)
async def enrol_faces(
    person_id: PersonId,
    request: Request,
    refuse_matches: Annotated[
        bool, Query(description="refuse a face that already matches another person")
    ] = False,
) -> dict[str, object]:
    """Enrol photos of the person: multipart files in ``images`` or JSON
    ``{"images": [base64, ...]}``. Each photo is reported as accepted or rejected with the
    reason (no face, several faces, low quality, duplicate, not an image), and with
    ``warnings``: ``matches_other`` (the face already matches another person: who, and the
    score) and ``unlike_person`` (unlike this person's other faces)."""
    svc = services(request)
    settings = svc.settings
    payload = await read_payload(
        request,
        max_image_bytes=settings.limits.max_upload_bytes,
        max_files=settings.api.max_images,
        file_fields=("images", "image"),
    )
    if payload.count("images") + payload.count("image") > settings.api.max_images:
        raise InvalidInput(f"at most {settings.api.max_images} photos per request")
    images = payload.images("images") + payload.images("image")
    if not images:
        raise InvalidInput("no photos: send them as 'images' (files or base64 strings)")
    reports = await svc.inference.run(
        svc.recognition.enrol, person_id, images, refuse_matches=refuse_matches
    )
    metrics(request).faces.labels("enrol").inc(sum(r.face is not None for r in reports))
    person = await asyncio.to_thread(svc.gallery.get_person, person_id)  # no model work
    return {
        "person": person_summary(person),
        "accepted": sum(r.accepted for r in reports),
        "images": [r.as_dict() for r in reports],
    }


@router.delete(
    "/people/{person_id}/faces/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
def delete_face(person_id: PersonId, template_id: TemplateId, request: Request) -> Response:
    """Remove one enrolled face of a person (404 when either does not exist)."""
    services(request).gallery.delete_template(template_id, person_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/faces/{template_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404)},
)
def thumbnail(template_id: TemplateId, request: Request) -> Response:
    """The small JPEG of an enrolled face, for the pages."""
    data = services(request).gallery.store.thumbnail(template_id)
    if data is None:
        return _not_found(f"no thumbnail for face template {template_id}")
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def _not_found(message: str) -> Response:
    return error_response("not_found", message)
