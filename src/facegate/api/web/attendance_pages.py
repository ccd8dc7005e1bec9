"""The attendance pages: today's board and a person's history.

Rendered on the server from the same reports the API serves (``facegate.attendance.reports``),
so a page, a CSV and ``facegate attendance report`` always agree. The arrivals chart is an SVG
drawn by the template from 24 numbers: no script and no build step. The CSV links point at the
API, which the session cookie authenticates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response

from facegate.api.auth import page
from facegate.api.routes.deps import hook_part
from facegate.api.routes.log_queries import EARLIEST, LATEST
from facegate.api.schemas import MAX_ID
from facegate.api.web.pages import Pages
from facegate.attendance.reports import (
    DailyRow,
    arrivals_per_hour,
    daily_report,
    person_history,
)
from facegate.attendance.service import Attendance
from facegate.attendance.summary import month_summary, parse_month
from facegate.errors import InvalidInput, UnknownPerson
from facegate.gallery.db import utcnow

HISTORY_DAYS = 30
RECENT_EVENTS = 50
BOARD_PAGE_SIZE = 50  # rows of the board's table per page (1,335 people were 80,000 px)
NAMES_SHOWN = 40  # "who is in" / "who is missing": the rest behind a filter link
BoardStatus = Literal["all", "present", "missing", "inside", "late", "left_early", "off"]
BOARD_STATUSES: tuple[str, ...] = get_args(BoardStatus)


@dataclass(frozen=True)
class BoardPage:
    """One page of the board's table after the name search and the status filter."""

    rows: list[DailyRow]
    total: int  # matching rows
    page: int
    pages: int


def _matches(row: DailyRow, status: str) -> bool:
    return {
        "all": True,
        "present": row.present,
        "missing": row.status == "missing",
        "off": row.status == "off",
        "inside": row.inside,
        "late": row.record.late,
        "left_early": row.record.left_early,
    }[status]


def filter_board(rows: list[DailyRow], q: str, status: str, page: int, size: int) -> BoardPage:
    """Rows whose name or external id contains ``q`` (case-insensitive) with ``status``,
    the ``page``-th slice of ``size`` (clamped to the last page)."""
    needle = q.strip().casefold()
    found = [
        r
        for r in rows
        if _matches(r, status)
        and (
            not needle
            or needle in r.name.casefold()
            or (r.external_id is not None and needle in r.external_id.casefold())
        )
    ]
    pages = max(1, -(-len(found) // size))
    page = min(page, pages)
    return BoardPage(found[(page - 1) * size : page * size], len(found), page, pages)


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
        request: Request,
        day: Annotated[date | None, Query(alias="date")] = None,
        q: Annotated[str, Query(max_length=100)] = "",
        status: Annotated[BoardStatus, Query()] = "all",
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> Response:
        att = _attendance(request)
        if att is None:
            return pages.error_page(request, 503, "attendance_off", "attendance is not running")
        policy = att.policy
        now = utcnow()
        today = policy.working_day(now)
        day = day if day is not None and EARLIEST <= day <= LATEST else today
        rows = daily_report(att.store, day, hr=att.hr, now=now)
        hours = arrivals_per_hour(rows, policy)
        board_page = filter_board(rows, q, status, page_no, BOARD_PAGE_SIZE)
        inside = [r for r in rows if r.inside]
        missing = [r for r in rows if r.status == "missing"]
        return pages.render(
            request,
            "attendance.html",
            day=day,
            today=today,
            prev_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1),
            rows=rows,
            board=board_page,
            query={"date": day.isoformat(), "q": q, "status": status},
            statuses=BOARD_STATUSES,
            inside=inside[:NAMES_SHOWN],
            inside_count=len(inside),
            missing=missing[:NAMES_SHOWN],
            missing_count=len(missing),
            present=sum(r.present for r in rows),
            chart=_chart(hours),
            tz=policy.timezone,
        )

    @app.get("/attendance/summary", include_in_schema=False, dependencies=admin)
    def summary_page(
        request: Request,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    ) -> Response:
        att = _attendance(request)
        if att is None:
            return pages.error_page(request, 503, "attendance_off", "attendance is not running")
        now = utcnow()
        month = month or att.policy.working_day(now).strftime("%Y-%m")
        try:
            first, _ = parse_month(month)
        except InvalidInput as exc:
            return pages.error_page(request, 422, "bad_month", str(exc))
        rows = month_summary(att.store, month, hr=att.hr, now=now)
        prev = (first - timedelta(days=1)).strftime("%Y-%m")
        nxt = (first + timedelta(days=32)).strftime("%Y-%m")
        return pages.render(
            request,
            "attendance_summary.html",
            month=month,
            prev_month=prev,
            next_month=nxt,
            rows=rows,
            tz=att.policy.timezone,
        )

    @app.get("/attendance/people/{person_id}", include_in_schema=False, dependencies=admin)
    def history(
        request: Request,
        person_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        until: Annotated[date | None, Query(alias="date", description="last day shown")] = None,
    ) -> Response:
        att = _attendance(request)
        if att is None:
            return pages.error_page(request, 503, "attendance_off", "attendance is not running")
        try:
            person = request.app.state.services.gallery.get_person(person_id)
        except UnknownPerson:
            return pages.error_page(request, 404, "unknown_person", f"no person {person_id}")
        now = utcnow()
        today = att.policy.working_day(now)
        last = until if until is not None and EARLIEST <= until <= today else today
        records = person_history(att.store, person_id, last, HISTORY_DAYS, hr=att.hr, now=now)
        recent = att.store.events(person_id=person_id, limit=RECENT_EVENTS).items
        return pages.render(
            request,
            "attendance_person.html",
            person=person,
            records=records,
            recent=recent,
            days=HISTORY_DAYS,
            last_day=last,
            tz=att.policy.timezone,
        )
