"""The attendance pages: today's board and a person's history.

Rendered on the server from the same reports the API serves (``facegate.attendance.reports``),
so a page, a CSV and ``facegate attendance report`` always agree. The arrivals chart is an SVG
drawn by the template from 24 numbers: no script and no build step. The CSV links point at the
API, which the session cookie authenticates.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response

from facegate.api.auth import page
from facegate.api.routes.deps import hook_part
from facegate.api.routes.log_queries import EARLIEST, LATEST
from facegate.api.schemas import MAX_ID
from facegate.api.web.pages import Pages
from facegate.attendance.reports import arrivals_per_hour, daily_report, person_history
from facegate.attendance.service import Attendance
from facegate.errors import UnknownPerson
from facegate.gallery.db import utcnow

HISTORY_DAYS = 30
RECENT_EVENTS = 50


def _attendance(request: Request) -> Attendance | None:
    service: Attendance | None = hook_part(request, "attendance_hook", "attendance")
    return service


def _chart(hours: list[int]) -> dict[str, Any]:
    """Bar geometry for the template (viewBox 0 0 480 160, bars in the lower 130 px)."""
    top = max(hours) or 1
    bars = []
    for hour, count in enumerate(hours):
        height = round(120 * count / top, 1)
        bars.append({"hour": hour, "count": count, "x": 8 + hour * 19.6, "h": height})
    return {"bars": bars, "max": top}


def install(app: FastAPI) -> None:
    """Add ``/attendance`` and ``/attendance/people/{id}`` (admin pages)."""
    pages = Pages()
    admin = [Depends(page("admin"))]

    @app.get("/attendance", include_in_schema=False, dependencies=admin)
    def board(
        request: Request, day: Annotated[date | None, Query(alias="date")] = None
    ) -> Response:
        att = _attendance(request)
        if att is None:
            return pages.render(request, "error.html", 503, message="attendance is not running")
        today = att.policy.working_day(utcnow())
        day = day if day is not None and EARLIEST <= day <= LATEST else today
        rows = daily_report(att.store, day)
        hours = arrivals_per_hour(rows, att.policy)
        return pages.render(
            request,
            "attendance.html",
            day=day,
            today=today,
            prev_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1),
            rows=rows,
            inside=[r for r in rows if r.inside],
            missing=[r for r in rows if not r.present],
            present=sum(r.present for r in rows),
            chart=_chart(hours),
            tz=att.policy.timezone,
        )

    @app.get("/attendance/people/{person_id}", include_in_schema=False, dependencies=admin)
    def history(request: Request, person_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        att = _attendance(request)
        if att is None:
            return pages.render(request, "error.html", 503, message="attendance is not running")
        try:
            person = request.app.state.services.gallery.get_person(person_id)
        except UnknownPerson:
            return pages.render(request, "error.html", 404, message=f"no person {person_id}")
        today = att.policy.working_day(utcnow())
        records = person_history(att.store, person_id, today, HISTORY_DAYS)
        recent = att.store.events(person_id=person_id, limit=RECENT_EVENTS).items
        return pages.render(
            request,
            "attendance_person.html",
            person=person,
            records=records,
            recent=recent,
            days=HISTORY_DAYS,
            tz=att.policy.timezone,
        )
