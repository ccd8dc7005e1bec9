"""Review and train from events (facegate.review): ``GET /api/v1/review/events`` (recent
recognitions, one row per unknown track, with snapshots and marks), ``POST .../{id}/assign``
(enrol an unknown face's snapshot into a person, through the same enrol path and quality
check as an upload) and ``POST .../{id}/wrong-name``; and the ``/review`` page. Admin only.

The events are the attendance log's (``attendance_log_unknown`` keeps unknown faces,
``attendance_keep_snapshots`` their snapshots); without the attendance log the routes answer
503 like the attendance API.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from facegate.api.auth import api_key_header, bearer, page, require
from facegate.api.routes.attendance import attendance
from facegate.api.routes.deps import services
from facegate.api.routes.log_queries import local_moment
from facegate.api.schemas import MAX_ID, Offset, PersonFilter, error_responses
from facegate.api.web.pages import Pages
from facegate.errors import Conflict, FacegateError, InvalidInput, NoFace, SeveralFaces
from facegate.review import ReviewRow, ReviewStore

router = APIRouter(
    prefix="/api/v1/review",
    tags=["review"],
    dependencies=[Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
ADMIN = [Depends(require("admin"))]
EventId = Annotated[int, Path(ge=1, le=MAX_ID)]


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: int = Field(ge=1, le=MAX_ID)


def review_store(request: Request) -> ReviewStore:
    store = attendance(request).store  # AttendanceUnavailable (503) without the log
    return ReviewStore(store.db, store)


Camera = Annotated[str | None, Query(max_length=64)]
Unknown = Annotated[bool, Query(description="only unknown faces")]
Moment = Annotated[datetime | None, Query(description="ISO time (site zone without offset)")]
Limit = Annotated[int, Query(ge=1, le=200)]


@dataclass(frozen=True)
class ReviewFilter:
    """What the review list is narrowed to; one definition for the API route and the page,
    so their query parameters cannot drift apart."""

    camera: str | None
    person_id: int | None
    unknown: bool
    since: datetime | None
    until: datetime | None


def review_filter(
    camera: Camera = None,
    person_id: PersonFilter = None,
    unknown: Unknown = False,
    since: Moment = None,
    until: Moment = None,
) -> ReviewFilter:
    return ReviewFilter(camera or None, person_id, unknown, since, until)


Filter = Annotated[ReviewFilter, Depends(review_filter)]


def _rows(request: Request, where: ReviewFilter, limit: int, offset: int) -> list[ReviewRow]:
    zone = attendance(request).policy.timezone
    return review_store(request).recent(
        camera=where.camera,
        person_id=where.person_id,
        unknown=where.unknown,
        since=local_moment(where.since, zone, "since"),
        until=local_moment(where.until, zone, "until"),
        limit=limit,
        offset=offset,
    )


@router.get("/events", dependencies=ADMIN)
async def review_events(
    request: Request, where: Filter, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Recent recognitions newest first, one row per unknown track (``repeats`` counts the
    folded events), each with its snapshot URL and review mark; ``offset`` counts rows of
    that folded list."""
    rows = await asyncio.to_thread(_rows, request, where, limit, offset)
    return {"events": [r.as_dict() for r in rows], "limit": limit, "offset": offset}


@router.post("/events/{event_id}/assign", dependencies=ADMIN)
async def assign(request: Request, event_id: EventId, body: AssignBody) -> dict[str, Any]:
    """Enrol the event's face snapshot as a template of ``person_id`` (face found, quality
    checked, duplicates refused, exactly as an uploaded photo) and mark the event assigned."""
    store = review_store(request)
    svc = services(request)
    event = await asyncio.to_thread(store.events.get, event_id)
    if event is None:
        raise UnknownEvent(f"no event {event_id}")
    snapshot = await asyncio.to_thread(store.events.snapshot, event_id)
    if snapshot is None:
        raise Conflict(f"event {event_id} has no snapshot (not kept, or past its retention)")
    await asyncio.to_thread(svc.gallery.get_person, body.person_id)  # UnknownPerson: 404
    reports = await svc.inference.run(
        svc.recognition.enrol, body.person_id, [(f"event-{event_id}.jpg", snapshot)]
    )
    report = reports[0]
    if not report.accepted:
        reasons = "; ".join(report.reasons) or report.outcome
        refusal = {"no_face": NoFace, "several_faces": SeveralFaces, "duplicate": Conflict}
        raise refusal.get(report.outcome, InvalidInput)(f"snapshot refused: {reasons}")
    mark = await asyncio.to_thread(
        store.mark, event_id, "assigned", body.person_id, report.template_id
    )
    return {"event_id": event_id, "mark": mark.as_dict(), "image": report.as_dict()}


@router.post("/events/{event_id}/wrong-name", dependencies=ADMIN)
async def wrong_name(request: Request, event_id: EventId) -> dict[str, Any]:
    """Mark a recognition's name as wrong (stored and shown on the review page)."""
    store = review_store(request)
    event = await asyncio.to_thread(store.events.get, event_id)
    if event is None:
        raise UnknownEvent(f"no event {event_id}")
    if event.person_id is None:
        raise Conflict(f"event {event_id} has no name to mark wrong")
    mark = await asyncio.to_thread(store.mark, event_id, "wrong_name", event.person_id)
    return {"event_id": event_id, "mark": mark.as_dict()}


class UnknownEvent(FacegateError):
    """No attendance event with that id (404 ``not_found``)."""

    code = "not_found"


def install(app: FastAPI) -> None:
    """The review API and the ``/review`` page (admin)."""
    pages = Pages()
    app.include_router(router)

    @app.get("/review", include_in_schema=False, dependencies=[Depends(page("admin"))])
    def review_page(request: Request, where: Filter) -> Response:
        rows = _rows(request, where, 100, 0)
        people = services(request).gallery.list_people(None, limit=500).items
        return pages.render(
            request,
            "review.html",
            rows=rows,
            people=people,
            camera=where.camera or "",
            person_id=where.person_id,
            unknown=where.unknown,
            since=where.since.isoformat(timespec="minutes") if where.since else "",
            until=where.until.isoformat(timespec="minutes") if where.until else "",
        )
