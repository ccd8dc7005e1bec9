"""HR's side of attendance over HTTP (admin): calendar, shifts, corrections, the monthly summary
and the Excel-friendly exports.

- ``/api/v1/attendance/calendar``: public holidays and make-up working days.
- ``/api/v1/attendance/shifts``: working hours for a person or an access group (add, edit,
  remove, assign; the /attendance/schedule page uses the same routes).
- ``/api/v1/attendance/corrections``: a manual clock-in/out with a reason (kept with who/when).
- ``/api/v1/attendance/summary?month=YYYY-MM``: per person, days present, late, left early,
  absent and hours; ``format=csv`` (UTF-8 BOM) or ``xlsx``.
- ``/api/v1/attendance/daily/export?date=&format=csv|xlsx``: the day for a spreadsheet.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.attendance import attendance
from facegate.api.routes.log_queries import check_day, local_moment
from facegate.api.routes.site_settings import who
from facegate.api.schemas import MAX_ID, PersonFilter, error_responses
from facegate.attendance.export import XLSX_TYPE, ExportFormat, export_response
from facegate.attendance.hr_store import correction_as_dict
from facegate.attendance.reports import DAILY_HEADER, daily_cells, daily_report
from facegate.attendance.schedule import Shift
from facegate.attendance.summary import SUMMARY_HEADER, month_summary
from facegate.gallery.db import utcnow

router = APIRouter(
    prefix="/api/v1/attendance",
    tags=["attendance"],
    dependencies=[Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 404, 422, 503),
)
ADMIN = [Depends(require("admin"))]
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}, XLSX_TYPE: {}}}
}


class CalendarDayIn(BaseModel):
    kind: Literal["holiday", "workday"]
    name: str = Field("", max_length=200)


class ShiftIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    start: time
    end: time = Field(description="not after start: the shift ends the next morning")
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], min_length=1, description="ISO weekdays, 1 = Monday"
    )


class AssignIn(BaseModel):
    person_id: int | None = Field(None, ge=1, le=MAX_ID)
    group: str | None = Field(None, min_length=1, max_length=100)


class CorrectionIn(BaseModel):
    person_id: int = Field(ge=1, le=MAX_ID)
    date: date
    kind: Literal["in", "out"]
    at: datetime = Field(description="without an offset: site time")
    reason: str = Field(min_length=1, max_length=500)


@router.get("/calendar", dependencies=ADMIN)
async def list_calendar(
    request: Request,
    year: Annotated[int, Query(ge=2000, le=2100, description="default: this year")] = 0,
) -> dict[str, Any]:
    """Holidays and make-up working days of a year."""
    att = attendance(request)
    year = year or att.policy.working_day(utcnow()).year
    days = await asyncio.to_thread(att.hr.calendar, date(year, 1, 1), date(year, 12, 31))
    return {
        "year": year,
        "days": [{"date": d.day.isoformat(), "kind": d.kind, "name": d.name} for d in days],
    }


@router.put("/calendar/{day}", dependencies=ADMIN)
async def set_calendar_day(
    request: Request, day: Annotated[date, Path()], body: CalendarDayIn
) -> dict[str, Any]:
    """Make ``day`` a public holiday (``holiday``) or a make-up working day (``workday``)."""
    check_day(day, "day")
    entry = await asyncio.to_thread(attendance(request).hr.set_day, day, body.kind, body.name)
    return {"date": entry.day.isoformat(), "kind": entry.kind, "name": entry.name}


@router.delete("/calendar/{day}", dependencies=ADMIN, status_code=204)
async def remove_calendar_day(request: Request, day: Annotated[date, Path()]) -> Response:
    """Back to an ordinary day (its weekday decides)."""
    await asyncio.to_thread(attendance(request).hr.remove_day, day)
    return Response(status_code=204)


@router.get("/shifts", dependencies=ADMIN)
async def list_shifts(request: Request) -> dict[str, Any]:
    """Every shift with the people and groups it is assigned to."""
    rows = await asyncio.to_thread(attendance(request).hr.shifts)
    return {"shifts": [r.as_dict() for r in rows]}


@router.post("/shifts", dependencies=ADMIN, status_code=201)
async def add_shift(request: Request, body: ShiftIn) -> dict[str, Any]:
    """A new shift (an end not after the start runs over midnight)."""
    hr = attendance(request).hr
    shift = await asyncio.to_thread(
        hr.add_shift, body.name, body.start, body.end, frozenset(body.days)
    )
    return _shift_dict(shift)


def _shift_dict(shift: Shift) -> dict[str, Any]:
    return {
        "id": shift.id,
        "name": shift.name,
        "start": shift.start.strftime("%H:%M"),
        "end": shift.end.strftime("%H:%M"),
        "days": sorted(shift.days),
        "overnight": shift.overnight,
    }


@router.put("/shifts/{shift_id}", dependencies=ADMIN)
async def update_shift(
    request: Request, shift_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: ShiftIn
) -> dict[str, Any]:
    """Change a shift's name, hours and days (its people and groups keep it)."""
    hr = attendance(request).hr
    shift = await asyncio.to_thread(
        hr.update_shift, shift_id, body.name, body.start, body.end, frozenset(body.days)
    )
    return _shift_dict(shift)


@router.delete("/shifts/{shift_id}", dependencies=ADMIN, status_code=204)
async def remove_shift(
    request: Request, shift_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    """Remove a shift; its people and groups go back to the site's hours."""
    await asyncio.to_thread(attendance(request).hr.remove_shift, shift_id)
    return Response(status_code=204)


@router.put("/shifts/{shift_id}/assign", dependencies=ADMIN)
async def assign_shift(
    request: Request, shift_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: AssignIn
) -> dict[str, Any]:
    """Give the shift to one person (``person_id``) or one access group (``group``)."""
    hr = attendance(request).hr
    await asyncio.to_thread(hr.assign, shift_id, person_id=body.person_id, group=body.group)
    rows = await asyncio.to_thread(hr.shifts)
    return next(r.as_dict() for r in rows if r.shift.id == shift_id)


@router.post("/corrections", dependencies=ADMIN, status_code=201)
async def add_correction(request: Request, body: CorrectionIn) -> dict[str, Any]:
    """A manual clock-in or clock-out with a reason; the day record shows it (and who made it,
    when and why); the latest correction of each kind wins."""
    att = attendance(request)
    check_day(body.date, "date")
    at = local_moment(body.at, att.policy.timezone, "at")
    assert at is not None
    fix = await asyncio.to_thread(
        att.hr.add_correction, body.person_id, body.date, body.kind, at, body.reason, who(request)
    )
    return {"person_id": body.person_id, "date": body.date.isoformat()} | correction_as_dict(
        fix, att.policy.timezone
    )


@router.get("/summary", dependencies=ADMIN, responses=_FILES)
async def summary(
    request: Request,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
    person_id: PersonFilter = None,
    fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
) -> Any:
    """Per person for a month: working days, days present, late, left early, absent, hours."""
    att = attendance(request)
    rows = await asyncio.to_thread(
        month_summary, att.store, month, hr=att.hr, now=utcnow(), person_id=person_id
    )
    if fmt != "json":
        export: ExportFormat = fmt
        return await asyncio.to_thread(
            export_response,
            export,
            SUMMARY_HEADER,
            [r.cells(month) for r in rows],
            f"attendance-{month}",
        )
    return {
        "month": month,
        "timezone": att.policy.timezone.key,
        "people": [r.as_dict() for r in rows],
    }


@router.get("/daily/export", dependencies=ADMIN, responses=_FILES)
async def daily_export(
    request: Request,
    day: Annotated[date | None, Query(alias="date", description="default: today")] = None,
    fmt: Annotated[ExportFormat, Query(alias="format")] = "xlsx",
) -> Response:
    """The day's records for a spreadsheet: CSV with a UTF-8 BOM, or ``.xlsx``."""
    att = attendance(request)
    policy = att.policy
    day = day or policy.working_day(utcnow())
    check_day(day, "date")
    rows = await asyncio.to_thread(daily_report, att.store, day, hr=att.hr, now=utcnow())
    cells = list(daily_cells(day, rows, policy))
    return await asyncio.to_thread(export_response, fmt, DAILY_HEADER, cells, f"attendance-{day}")
