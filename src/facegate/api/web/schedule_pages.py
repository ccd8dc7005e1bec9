"""``/attendance/schedule`` (admin): the calendar (public holidays, make-up working days) and
the shifts with the people and groups that work them, editable.

The page is rendered from ``HrStore`` and edits through the same ``/api/v1/attendance/calendar``
and ``/api/v1/attendance/shifts`` routes an integrator calls (static/attendance_schedule.js),
so the page adds no second way to change them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response

from facegate.api.auth import page
from facegate.api.routes.deps import hook_part
from facegate.api.web.pages import Pages
from facegate.api.web.settings_pages import WEEKDAYS
from facegate.attendance.service import Attendance
from facegate.gallery.db import utcnow


def install(app: FastAPI) -> None:
    """Add ``/attendance/schedule``."""
    pages = Pages()

    @app.get("/attendance/schedule", include_in_schema=False, dependencies=[Depends(page("admin"))])
    def schedule_page(
        request: Request, year: Annotated[int, Query(ge=2000, le=2100)] = 0
    ) -> Response:
        att: Attendance | None = hook_part(request, "attendance_hook", "attendance")
        if att is None:
            return pages.error_page(request, 503, "attendance_off", "attendance is not running")
        year = year or att.policy.working_day(utcnow()).year
        days = att.hr.calendar(date(year, 1, 1), date(year, 12, 31))
        shifts = att.hr.shifts()
        names = {pid: name for pid, name, _ in att.store.people()}
        return pages.render(
            request,
            "attendance_schedule.html",
            year=year,
            days=days,
            shifts=shifts,
            names=names,
            weekdays=WEEKDAYS,
        )
