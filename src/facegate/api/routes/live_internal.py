"""The internal live endpoints other hosts of the cluster call (facegate.live.remote).

They answer for *this host only* (this worker and its sibling workers through the relay),
never proxy further, so two hosts can never bounce a request between them. Callers are
other nodes with a node token (``X-Facegate-Node``, facegate.cluster.auth) or anybody with a
``monitor`` key (useful for debugging one host).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from facegate.api.auth import require_or_node
from facegate.api.routes.live import (
    BOUNDARY,
    WS_POLICY_VIOLATION,
    host_events,
    host_parts,
    live_hook,
    same_origin,
)

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


@router.websocket(f"{INTERNAL}/events", dependencies=[Depends(NODE_OR_MONITOR)])
async def host_events_socket(ws: WebSocket) -> None:
    """This host's recognition events, one JSON text message each, until the caller leaves.
    A browser from another site cannot open it with a visitor's cookie (same check as
    ``/ws/events``)."""
    if not same_origin(ws):
        await ws.close(code=WS_POLICY_VIOLATION)
        return
    await ws.accept()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
    loop = asyncio.get_running_loop()
    filler = loop.create_task(host_events(ws.app, queue))

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    closed = loop.create_task(until_closed())
    try:
        while not closed.done():
            getter = loop.create_task(queue.get())
            done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await ws.send_json(getter.result())
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        for task in (filler, closed):
            task.cancel()
        await asyncio.gather(filler, closed, return_exceptions=True)
