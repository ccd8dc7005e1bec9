"""The internal live endpoints other hosts of the cluster call (facegate.live.remote).

They answer for *this host only* (this worker and its sibling workers through the relay),
never proxy further, so two hosts can never bounce a request between them. Callers are
other nodes with a node token (``X-Facegate-Node``, facegate.cluster.auth) or anybody with a
``monitor`` key (useful for debugging one host). Recognition events need no internal route:
every host reads every host's from the live event log (facegate.live.event_log).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from facegate.api.auth import require_or_node
from facegate.api.routes.live import BOUNDARY, host_parts, live_hook

router = APIRouter()
NODE_OR_MONITOR = require_or_node("monitor")
INTERNAL = "/internal/v1/live"


@router.get(f"{INTERNAL}/streams", include_in_schema=False, dependencies=[Depends(NODE_OR_MONITOR)])
async def host_streams(request: Request) -> dict[str, Any]:
    """This host's streams and cameras (every worker's) with their stats."""
    hook = live_hook(request.app)
    return {"streams": await hook.all_streams() if hook is not None else []}


@router.get(
    f"{INTERNAL}/streams/{{name}}/mjpeg",
    include_in_schema=False,
    response_class=StreamingResponse,
    dependencies=[Depends(NODE_OR_MONITOR)],
)
async def host_mjpeg(request: Request, name: str) -> StreamingResponse:
    """The MJPEG of a stream this host runs (404 otherwise); the proxying host passes it on
    byte for byte."""
    parts = await host_parts(live_hook(request.app), name)
    if parts is None:
        raise HTTPException(404, f"no stream {name!r} on this host")
    return StreamingResponse(
        parts,
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
