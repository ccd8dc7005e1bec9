"""The access pages: ``/access`` (doors with today's decisions, groups, rules, holidays, with
forms that call the same ``/api/v1/access`` an integrator uses) and ``/access/doors/{name}``
(the door camera's MJPEG live view with the decisions drawn over it, and the recent decisions
with their snapshots, refreshed by ``access_door.js``).

Rendered on the server from ``facegate.access`` (store and events), admin only. Database work
runs in plain ``def`` handlers (FastAPI's thread pool), never on the event loop.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import Response

from facegate.access.policy import format_days, format_minute
from facegate.access.service import AccessService
from facegate.access.store import AccessNotFound
from facegate.api.auth import page
from facegate.api.routes.deps import hook_part
from facegate.api.web.pages import Pages
from facegate.gallery.db import utcnow

RECENT = 20


def _access(request: Request) -> AccessService | None:
    service: AccessService | None = hook_part(request, "access_hook", "access")
    return service


def install(app: FastAPI) -> None:
    """Add ``/access`` and ``/access/doors/{name}`` (admin pages)."""
    pages = Pages()
    admin = [Depends(page("admin"))]

    @app.get("/access", include_in_schema=False, dependencies=admin)
    def access_board(request: Request) -> Response:
        svc = _access(request)
        if svc is None:
            return pages.error_page(request, 503, "access_off", "access control is not running")
        local_midnight = datetime.combine(utcnow().astimezone(svc.timezone).date(), time(0))
        counts = svc.events.counts_since(local_midnight.replace(tzinfo=svc.timezone))
        return pages.render(
            request,
            "access.html",
            doors=svc.store.doors(),
            counts=counts,
            groups=svc.store.groups(),
            rules=svc.store.rules(),
            holidays=svc.store.holidays(),
            format_days=format_days,
            format_minute=format_minute,
            tz=svc.timezone,
        )

    @app.get("/access/doors/{name}", include_in_schema=False, dependencies=admin)
    def door_page(
        request: Request, name: Annotated[str, Path(min_length=1, max_length=64)]
    ) -> Response:
        svc = _access(request)
        if svc is None:
            return pages.error_page(request, 503, "access_off", "access control is not running")
        try:
            door = svc.store.door(name)
        except AccessNotFound:
            return pages.render(
                request,
                "error.html",
                404,
                message_key="acc.not_found",
                message_values={"name": name},
            )
        recent = svc.events.events(door=name, limit=RECENT).items
        return pages.render(request, "access_door.html", door=door, recent=recent, tz=svc.timezone)
