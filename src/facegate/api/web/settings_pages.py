"""``/settings`` (admin): the site settings every process uses, and what they apply to.

The form edits the ``site_settings`` row through the same ``PUT /api/v1/settings/site`` an
integrator calls (static/settings.js); the cameras with their attendance direction, the doors
with their cameras, and the recognition threshold in force are shown read-only next to it
(they are configured elsewhere: cameras file, ``/access``, the operating point).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from facegate.api.auth import page
from facegate.api.routes.site_settings import site_info
from facegate.api.web.pages import Pages

WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)


def install(app: FastAPI) -> None:
    """Add ``/settings``."""
    pages = Pages()

    @app.get("/settings", include_in_schema=False, dependencies=[Depends(page("admin"))])
    def settings_page(request: Request) -> Response:
        hook = getattr(request.app.state, "attendance_hook", None)
        att = None if hook is None else hook.attendance
        if att is None:
            return pages.error_page(request, 503, "attendance_off", "attendance is not running")
        state = att.site.get()
        zone = ZoneInfo(state.settings.timezone)
        updated = ""
        if state.updated_at is not None:
            updated = state.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return pages.render(
            request,
            "settings.html",
            site=state.settings,
            state=state,
            info=site_info(request, att),
            weekdays=WEEKDAYS,
            updated=updated,
        )
