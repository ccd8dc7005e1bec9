"""``/healthz`` (the process answers), ``/readyz`` (models loaded, database reachable) and
``/metrics`` (Prometheus). None of them needs a key: load balancers and scrapers call them,
and they reveal no personal data (counts only)."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from facegate.api.access import public
from facegate.api.routes.deps import metrics

router = APIRouter(tags=["health"], dependencies=[Depends(public)])
log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, object]:
    """Liveness: the process is up and answering (``pid`` tells workers apart)."""
    return {"status": "ok", "pid": os.getpid()}


@router.get("/readyz", responses={503: {"description": "not ready"}})
def readyz(request: Request) -> JSONResponse:
    """Readiness: models are loaded and the gallery database answers."""
    svc = getattr(request.app.state, "services", None)
    checks: dict[str, str] = {"models": "ok" if svc is not None else "not loaded"}
    if svc is not None:
        try:
            checks["gallery_revision"] = str(svc.gallery.store.revision())
            checks["database"] = "ok"
        except Exception as exc:  # any driver error means "not ready", never a 500
            log.warning("readiness: database unreachable: %s", type(exc).__name__)
            checks["database"] = "unreachable"
    ready = checks.get("database") == "ok" and checks["models"] == "ok"
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus(request: Request) -> Response:
    """Prometheus exposition: requests and latency per route, faces processed, gallery size,
    inference queue depth, per-stream gauges."""
    m = metrics(request)
    svc = request.app.state.services

    def gallery_size() -> None:
        try:
            m.gallery_people.set(svc.gallery.list_people(limit=1).total)
            m.gallery_templates.set(svc.gallery.store.count_templates())
        except Exception as exc:  # keep exporting the rest while the database is away
            log.warning("metrics: gallery size unavailable: %s", type(exc).__name__)

    await asyncio.to_thread(gallery_size)  # database queries: off the event loop
    m.queue_depth.set(svc.inference.queue_depth)
    m.inference_pending.set(svc.inference.pending)
    return Response(await m.scrape(), media_type=m.content_type)
