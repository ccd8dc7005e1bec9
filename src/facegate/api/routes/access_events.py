"""``GET /api/v1/access/events``: the door events, newest first, filtered and paged, as JSON
or CSV (``?format=csv`` or ``Accept: text/csv``), and each event's face snapshot.

Admin only: door events say who went where and when. Each event carries how its outputs fared
(``outputs``, from the dispatcher's outbox).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from facegate.access.events import events_csv
from facegate.access.service import AccessService
from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.access import access_service
from facegate.api.routes.log_queries import (
    csv_stream,
    frozen_until,
    local_moment,
    snapshot_response,
)
from facegate.api.schemas import MAX_ID, Offset, PersonFilter, error_responses

router = APIRouter(
    prefix="/api/v1/access",
    tags=["access"],
    dependencies=[Depends(require("admin")), Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 422, 503),
)


def _page(svc: AccessService, query: dict[str, Any], limit: int, offset: int) -> dict[str, Any]:
    page = svc.events.events(**query, limit=limit, offset=offset)
    statuses = svc.dispatcher.statuses([e.id for e in page.items]) if page.items else {}
    events = []
    for e in page.items:
        item = e.as_dict()
        item["snapshot_url"] = f"/api/v1/access/events/{e.id}/snapshot" if e.has_snapshot else None
        item["outputs"] = [
            {
                "output": s.output,
                "state": s.state,
                "attempts": s.attempts,
                "last_error": s.last_error,
                "delivered_at": None if s.delivered_at is None else s.delivered_at.isoformat(),
            }
            for s in statuses.get(e.id, [])
        ]
        events.append(item)
    return {"events": events, "total": page.total, "limit": limit, "offset": offset}


@router.get("/events", responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def list_events(
    request: Request,
    door: Annotated[str | None, Query(max_length=64)] = None,
    person_id: PersonFilter = None,
    decision: Annotated[Literal["granted", "denied"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="inclusive; no offset: site time")] = None,
    until: Annotated[datetime | None, Query(description="exclusive; no offset: site time")] = None,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="only newer")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
) -> Any:
    """Door events, newest first: ``{"events": [{"at", "door", "camera", "person",
    "decision", "reason", "score", ...}], "total", "limit", "offset"}``. With ``format=csv``
    (or ``Accept: text/csv``) every matching event, unpaged (streamed, at most 1,000,000
    rows), as a CSV download."""
    svc = access_service(request)
    query: dict[str, Any] = {
        "door": door or None,
        "person_id": person_id,
        "decision": decision,
        "since": local_moment(since, svc.timezone, "since"),
        "until": local_moment(until, svc.timezone, "until"),
        "after_id": after_id,
    }
    wants_csv = fmt == "csv" or (
        fmt is None and "text/csv" in request.headers.get("accept", "").lower()
    )
    if wants_csv:
        query["until"] = frozen_until(query["until"])
        return csv_stream(
            lambda n, skip: svc.events.events(**query, limit=n, offset=skip).items,
            lambda items, first: events_csv(items, svc.timezone, with_header=first),
            "door-events.csv",
        )
    return await asyncio.to_thread(_page, svc, query, limit, offset)


@router.get(
    "/events/{event_id}/snapshot",
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404)},
)
async def event_snapshot(
    request: Request, event_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    """The face snapshot kept with a door event (until its retention period ends)."""
    data = await asyncio.to_thread(access_service(request).events.snapshot, event_id)
    return snapshot_response(data, f"no snapshot for door event {event_id}")
