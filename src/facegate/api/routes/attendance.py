"""``/api/v1/attendance``: the log, daily records, CSV export, and check-in by photo.

Reading the log is for administrators (it says where people were and when); a check-in
needs the ``checkin`` scope (an attendance kiosk's key; ``recognize`` keys of cameras and
door kiosks cannot log attendance). ``POST /attendance/checkin`` identifies every face in
the photo and logs each known one as a ``checkin`` event through the same cooldown as
cameras (see docs/attendance.md), on a *configured* camera only (``cameras``,
``attendance_cameras``, or the default ``api``): invented camera names would each get a
cooldown of their own and let one photo be logged without end.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.deps import hook_part, running, services
from facegate.api.routes.log_queries import (
    check_day,
    csv_stream,
    frozen_until,
    local_moment,
    snapshot_response,
)
from facegate.api.schemas import (
    MAX_ID,
    ONE_IMAGE_BODY,
    Offset,
    PersonFilter,
    PersonRefExternal,
    error_responses,
)
from facegate.api.uploads import Payload, read_payload
from facegate.attendance.export import export_response
from facegate.attendance.reports import DAILY_HEADER, daily_cells, daily_report, events_csv
from facegate.attendance.rules import Direction
from facegate.attendance.service import DIRECTIONS, Attendance
from facegate.config import Settings
from facegate.engine.thumbnail import face_snapshot
from facegate.errors import InvalidInput
from facegate.events import RecognitionEvent
from facegate.gallery.db import utcnow
from facegate.recognition import IdentifiedFace
from facegate.services import Services

router = APIRouter(
    prefix="/api/v1/attendance",
    tags=["attendance"],
    dependencies=[Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 422, 503),
)
ADMIN = [Depends(require("admin"))]


class EventOut(BaseModel):
    """A logged event; ``person`` is null for an unknown face, ``at`` is UTC."""

    id: int
    kind: Literal["confirmed", "checkin", "unknown"]
    person: PersonRefExternal | None
    camera: str
    direction: Literal["in", "out", "both"]
    at: str
    similarity: float
    track_id: int | None
    has_snapshot: bool


class EventPageOut(BaseModel):
    items: list[EventOut]
    total: int
    limit: int
    offset: int


class DailyPersonOut(BaseModel):
    """One person's working day; times in the site's time zone (ISO 8601 with offset)."""

    person: PersonRefExternal
    status: Literal["present", "missing"]
    first_in: str | None
    last_out: str | None
    events: int
    late: bool
    left_early: bool
    inside: bool
    day_kind: Literal["workday", "weekend", "holiday", "makeup"] | None = None
    shift: str | None = None
    leave_judged: bool = True
    corrections: list[dict[str, Any]] = []


class DailyOut(BaseModel):
    date: str
    timezone: str
    present: int
    missing: int
    people: list[DailyPersonOut]


class CheckinFaceOut(BaseModel):
    """A known face in the photo: ``recorded`` false when the cooldown suppressed it, with
    the id of the event that did."""

    person: PersonRefExternal
    similarity: float
    box: list[float]
    recorded: bool
    event: EventOut | None
    suppressed_by: int | None


class CheckinOut(BaseModel):
    camera: str
    at: str
    checkins: list[CheckinFaceOut]
    unknown_faces: int


_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


def attendance(request: Request) -> Attendance:
    service: Attendance | None = hook_part(request, "attendance_hook", "attendance")
    return running(service, "the attendance log")


def _name(value: object, field: str) -> str | None:
    """A camera name: printable, at most 64 characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64 or not value.isprintable():
        raise InvalidInput(f"{field} must be printable text of at most 64 characters")
    return value


@router.get("/events", dependencies=ADMIN, response_model=EventPageOut, responses=_CSV)
async def list_events(
    request: Request,
    person_id: PersonFilter = None,
    camera: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="inclusive; no offset: site time")] = None,
    until: Annotated[datetime | None, Query(description="exclusive; no offset: site time")] = None,
    day: Annotated[
        date | None, Query(alias="date", description="one working day (instead of since/until)")
    ] = None,
    kind: Annotated[Literal["confirmed", "checkin", "unknown"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Any:
    """Logged events, newest first, filtered by person, camera, kind and time range (or one
    working day). With ``format=csv`` every matching event (no paging; streamed, at most
    1,000,000 rows) as a CSV download."""
    att = attendance(request)
    if day is not None:
        if since is not None or until is not None:
            raise InvalidInput("give date or since/until, not both")
        check_day(day, "date")
        since, until = att.policy.day_window(day)
    query: dict[str, Any] = {
        "person_id": person_id,
        "camera": _name(camera, "camera"),
        "since": local_moment(since, att.policy.timezone, "since"),
        "until": local_moment(until, att.policy.timezone, "until"),
        "kinds": [kind] if kind else None,
    }
    if fmt == "csv":
        query["until"] = frozen_until(query["until"])
        return csv_stream(
            lambda n, skip: att.store.events(**query, limit=n, offset=skip).items,
            lambda items, first: events_csv(items, att.policy, with_header=first),
            "attendance-events.csv",
        )
    page = await asyncio.to_thread(att.store.events, **query, limit=limit, offset=offset)
    return {
        "items": [e.as_dict() for e in page.items],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/events/{event_id}/snapshot",
    dependencies=ADMIN,
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404)},
)
async def event_snapshot(
    request: Request, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    """The face snapshot kept with an event (until its retention period ends)."""
    data = await asyncio.to_thread(attendance(request).store.snapshot, event_id)
    return snapshot_response(data, f"no snapshot for event {event_id}")


@router.get("/daily", dependencies=ADMIN, response_model=DailyOut, responses=_CSV)
async def daily(
    request: Request,
    day: Annotated[
        date | None, Query(alias="date", description="working day (default: today, site time)")
    ] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Any:
    """Every enrolled person's record for a working day: first in, last out, number of
    events, late / left early, present or missing."""
    att = attendance(request)
    policy = att.policy
    day = day or policy.working_day(utcnow())
    check_day(day, "date")
    rows = await asyncio.to_thread(daily_report, att.store, day, hr=att.hr, now=utcnow())
    if fmt == "csv":  # with a UTF-8 BOM so Excel reads Chinese names (attendance/export.py)
        cells = daily_cells(day, rows, policy)
        return export_response("csv", DAILY_HEADER, cells, f"attendance-{day}")
    return {
        "date": day.isoformat(),
        "timezone": policy.timezone.key,
        "present": sum(r.present for r in rows),
        "missing": sum(not r.present for r in rows),
        "people": [r.as_dict(att.policy) for r in rows],
    }


def _identify_with_snapshots(
    svc: Services, data: bytes, snapshots: bool
) -> list[tuple[IdentifiedFace, bytes | None]]:
    image: np.ndarray = svc.engine.load(data)
    found = svc.recognition.identify_image(image)
    return [(f, face_snapshot(image, f.face.box) if snapshots else None) for f in found]


DEFAULT_CHECKIN_CAMERA = "api"


def checkin_cameras(settings: Settings) -> set[str]:
    """The camera names a check-in may name: configured cameras and attendance cameras."""
    names = {c.name for c in settings.live.all_cameras} | set(settings.attendance.cameras)
    return names | {DEFAULT_CHECKIN_CAMERA}


async def _checkin_fields(request: Request) -> tuple[bytes, str, Direction | None]:
    settings = services(request).settings
    payload: Payload = await read_payload(
        request,
        max_image_bytes=settings.limits.max_upload_bytes,
        max_files=1,
        file_fields=("image",),
    )
    data = payload.image("image")
    camera = _name(payload.values.get("camera"), "camera") or DEFAULT_CHECKIN_CAMERA
    allowed = checkin_cameras(settings)
    if camera not in allowed:
        raise InvalidInput(
            f"camera {camera!r} is not configured for check-ins; use one of "
            f"{', '.join(sorted(allowed))} (settings cameras / attendance_cameras)"
        )
    direction = payload.values.get("direction") or None
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInput("direction must be in, out or both")
    return data, camera, direction


@router.post(
    "/checkin",
    dependencies=[Depends(require("checkin"))],
    response_model=CheckinOut,
    openapi_extra=ONE_IMAGE_BODY,
    responses=error_responses(400, 413, 415),
)
async def checkin(request: Request) -> dict[str, Any]:
    """Check in by photo: every known face in ``image`` becomes a ``checkin`` event on
    ``camera`` (default ``api``; its configured direction unless ``direction`` is given),
    unless the same person was logged on that camera within the cooldown. ``camera`` must be
    a configured camera (settings ``cameras`` or ``attendance_cameras``) or ``api``."""
    svc, att = services(request), attendance(request)
    data, camera, direction = await _checkin_fields(request)
    keep = att.settings.attendance.snapshots
    found = await svc.inference.run(_identify_with_snapshots, svc, data, keep)
    at = utcnow()
    results, unknown = [], 0
    for item, snapshot in found:
        person = item.match.person
        event = RecognitionEvent(
            kind="checkin" if person is not None else "unknown",
            stream=camera,
            at=at,
            track_id=None,
            person_id=None if person is None else person.id,
            person_name=None if person is None else person.name,
            score=item.match.score,
            box=item.face.box.as_tuple(),
            snapshot=snapshot,
        )
        # Live viewers see every face; the recorder logs unknown ones if that is enabled
        # and skips check-ins, which are logged here so the answer can say what was logged.
        svc.events.publish(event)
        if person is None:
            unknown += 1
            continue
        outcome = await asyncio.to_thread(att.record, event, direction=direction)
        results.append(
            {
                "person": {"id": person.id, "name": person.name},
                "similarity": round(item.match.score, 4),
                "box": item.face.box.as_list(),
                "recorded": outcome.event is not None,
                "event": None if outcome.event is None else outcome.event.as_dict(),
                "suppressed_by": outcome.suppressed_by,
            }
        )
    return {
        "camera": camera,
        "at": at.isoformat(),
        "checkins": results,
        "unknown_faces": unknown,
    }
