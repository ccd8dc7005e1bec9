"""``/api/v1/settings/site``: the site settings every process uses (admin).

``GET`` answers the settings in force (``revision`` 0 until first saved: the environment's
defaults) with read-only information an administrator needs next to them: the cameras and their
attendance direction, the doors with their cameras, and the recognition threshold in force.
``PUT`` takes the editable fields (all or some) and saves a new revision; other worker
processes use it within ``site.CACHE_TTL_S`` seconds. See docs/attendance.md "Site settings".
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.attendance import attendance
from facegate.api.schemas import error_responses
from facegate.attendance.service import Attendance
from facegate.attendance.site import SiteState, parse_site_settings

router = APIRouter(
    prefix="/api/v1/settings",
    tags=["settings"],
    dependencies=[Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 422, 503),
)
ADMIN = [Depends(require("admin"))]


def who(request: Request) -> str:
    """The name of the key that made the request (for audit), or ``local`` without auth."""
    key = getattr(request.state, "key", None)
    return f"{key.name} (key {key.id})" if key is not None else "local"


def site_info(request: Request, att: Attendance) -> dict[str, Any]:
    """Read-only context for the settings: cameras, doors, threshold (blocking: DB reads)."""
    settings = att.settings
    names = {c.name for c in settings.live.all_cameras} | set(att.directions)
    cameras = [{"name": n, "direction": att.direction(n)} for n in sorted(names)]
    doors: list[dict[str, Any]] = []
    hook = getattr(request.app.state, "access_hook", None)
    if hook is not None and getattr(hook, "access", None) is not None:
        doors = [
            {
                "name": d.name,
                "enabled": d.enabled,
                "cameras": [{"camera": c.camera, "direction": c.direction} for c in d.cameras],
            }
            for d in hook.access.store.doors()
        ]
    svc = getattr(request.app.state, "services", None)
    threshold = None
    if svc is not None:
        try:
            threshold = round(float(svc.recognition.threshold), 4)
        except Exception:  # no gallery yet (start-up): the page says "-"
            threshold = None
    return {
        "cameras": cameras,
        "doors": doors,
        "recognition_threshold": threshold,
        "recognition_threshold_override": settings.match.threshold,
    }


def answer(state: SiteState, info: dict[str, Any]) -> dict[str, Any]:
    return {**state.as_dict(), "info": info}


@router.get("/site", dependencies=ADMIN)
async def get_site(request: Request) -> dict[str, Any]:
    """The site settings in force, with the cameras, doors and threshold (read-only)."""
    att = attendance(request)
    state = await asyncio.to_thread(att.site.get)
    return answer(state, await asyncio.to_thread(site_info, request, att))


@router.put("/site", dependencies=ADMIN)
async def put_site(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "timezone": "Asia/Shanghai",
                    "work_start": "09:00",
                    "work_end": "18:00",
                    "working_days": [1, 2, 3, 4, 5],
                    "late_grace_minutes": 5,
                    "early_grace_minutes": 5,
                    "leave_margin_minutes": 30,
                }
            ]
        ),
    ],
) -> dict[str, Any]:
    """Save the site settings (any subset of the fields; the others keep their value)."""
    att = attendance(request)
    current = await asyncio.to_thread(att.site.get)
    new = parse_site_settings(body, current.settings)
    state = await asyncio.to_thread(att.site.put, new, who(request))
    return answer(state, await asyncio.to_thread(site_info, request, att))
