"""The live view: ``/live`` (page), ``/api/v1/live/streams``, ``/streams/{name}/mjpeg`` and
``/ws/events``; plus per-stream gauges for ``/metrics``.

Authentication is the pages' (docs/api.md): the session cookie, or an API key header, with
the ``recognize`` scope (``admin`` includes it). An ``<img src="/streams/...">`` on the
page sends the cookie because it is same-origin (SameSite=Strict still sends it); so does
the page's WebSocket, whose ``Origin`` must also be this host, so another site's script
cannot open it with the visitor's cookie.

MJPEG (``multipart/x-mixed-replace``) rather than WebRTC or HLS: an ``<img>`` tag plays it
with no JavaScript, each part is a complete JPEG (a dropped frame never corrupts the next),
and the server decides the pace. With several workers, a stream this worker does not have
is relayed from the worker that does (facegate.live.relay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import Response, StreamingResponse
from prometheus_client import Gauge

from facegate.api.auth import SESSION_COOKIE, require
from facegate.api.web.pages import Pages
from facegate.errors import Busy
from facegate.live.hook import LiveHook
from facegate.live.hub import TooManyViewers

log = logging.getLogger(__name__)
router = APIRouter()
BOUNDARY = "frame"
FRAME_WAIT_S = 5.0  # a viewer re-checks its channel at least this often
WS_POLICY_VIOLATION = 1008


def live_hook(app: Any) -> LiveHook | None:
    return next((h for h in app.state.hooks if isinstance(h, LiveHook)), None)


def _part(jpeg: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + b"\r\n"
    )


@router.get("/api/v1/live/streams", tags=["live"], dependencies=[Depends(require("recognize"))])
async def streams(request: Request) -> dict[str, Any]:
    """Every active stream (TCP clients and configured cameras) with fps, latency, drops."""
    hook = live_hook(request.app)
    return {"streams": await hook.all_streams() if hook is not None else []}


@router.get(
    "/streams/{name}/mjpeg",
    tags=["live"],
    dependencies=[Depends(require("recognize"))],
    response_class=StreamingResponse,
    responses={200: {"content": {"multipart/x-mixed-replace": {}}}},
)
async def mjpeg(request: Request, name: str) -> StreamingResponse:
    """The stream's frames with boxes, names (or "unknown") and track ids, as MJPEG."""
    hook = live_hook(request.app)
    if hook is None or hook.hub is None:
        raise HTTPException(404, f"no stream {name!r}")
    parts: AsyncIterator[bytes]
    channel = hook.hub.get(name)
    if channel is not None:
        try:
            viewer = channel.add_viewer()
        except TooManyViewers:
            raise Busy("too many live viewers") from None

        async def local() -> AsyncIterator[bytes]:
            try:
                while True:
                    jpeg = await channel.next_frame(viewer, FRAME_WAIT_S)
                    if jpeg is not None:
                        yield _part(jpeg)
                    elif channel.closed or viewer.dropped:
                        return
            finally:
                channel.remove_viewer(viewer)

        parts = local()
    else:
        relayed = await hook.relay.peer_frames(name) if hook.relay is not None else None
        if relayed is None:
            raise HTTPException(404, f"no stream {name!r}")

        async def remote(frames: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
            try:
                async for jpeg in frames:
                    yield _part(jpeg)
            finally:
                await frames.aclose()  # closes the peer connection: the owner's viewer leaves

        parts = remote(relayed)
    return StreamingResponse(
        parts,
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Facegate-Worker": str(os.getpid()),  # which worker answered (relayed or not)
        },
    )


async def _ws_allowed(ws: WebSocket) -> bool:
    """A same-origin socket with a valid key (cookie or header) of scope recognize; the key
    is looked up off the event loop."""
    origin = ws.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != ws.headers.get("host"):
        return False
    if not ws.app.state.settings.api_auth:
        return True
    secret = ws.headers.get("x-api-key") or ws.cookies.get(SESSION_COOKIE)
    key = await ws.app.state.keys.authenticate_async(secret) if secret else None
    return key is not None and key.allows("recognize")


@router.websocket("/ws/events")
async def events(ws: WebSocket) -> None:
    """Each recognition event (``RecognitionEvent.as_dict()``) as one JSON text message."""
    if not await _ws_allowed(ws):
        await ws.close(code=WS_POLICY_VIOLATION)
        return
    await ws.accept(headers=[(b"x-facegate-worker", str(os.getpid()).encode())])
    hook = live_hook(ws.app)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
    loop = asyncio.get_running_loop()

    async def local() -> None:
        with ws.app.state.services.events.subscribe() as sub:
            while True:
                event = await sub.next(poll_s=0.1)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event.as_dict())

    async def peers() -> None:
        if hook is not None and hook.relay is not None:
            async for event in hook.relay.peer_events():
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    tasks = [loop.create_task(local()), loop.create_task(peers())]
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
        for task in (*tasks, closed):
            task.cancel()
        await asyncio.gather(*tasks, closed, return_exceptions=True)


class StreamGauges:
    """Per-stream fps, latency, drops and viewers for Prometheus, refreshed every 2 s."""

    def __init__(self, registry: Any) -> None:
        labels = ["stream", "kind"]
        mode = {"multiprocess_mode": "livesum"}  # each stream lives in one worker
        self.fps = Gauge("facegate_stream_fps", "Frames processed per second", labels,
                         registry=registry, **mode)  # fmt: skip
        self.latency = Gauge(
            "facegate_stream_latency_seconds",
            "Frame in to result ready, server side, by quantile",
            [*labels, "quantile"],
            registry=registry,
            **mode,
        )
        self.dropped = Gauge(
            "facegate_stream_dropped_frames",
            "Frames dropped since the stream started, by reason (replaced, stale)",
            [*labels, "reason"],
            registry=registry,
            **mode,
        )
        self.viewers = Gauge("facegate_stream_viewers", "MJPEG viewers", labels,
                             registry=registry, **mode)  # fmt: skip
        self._seen: set[tuple[str, str]] = set()

    def update(self, stats: list[dict[str, Any]]) -> None:
        now = {(s["name"], s["kind"]) for s in stats}
        for gone in self._seen - now:  # zero first: multiprocess files keep removed series
            for g in (self.fps, self.viewers):
                g.labels(*gone).set(0)
            for q in ("0.5", "0.95"):
                self.latency.labels(*gone, q).set(0)
            for reason in ("replaced", "stale"):
                self.dropped.labels(*gone, reason).set(0)
        self._seen = now
        for s in stats:
            key = (s["name"], s["kind"])
            self.fps.labels(*key).set(s["fps"])
            self.viewers.labels(*key).set(s["viewers"])
            self.latency.labels(*key, "0.5").set(s["latency_ms_p50"] / 1000)
            self.latency.labels(*key, "0.95").set(s["latency_ms_p95"] / 1000)
            self.dropped.labels(*key, "replaced").set(s["dropped_replaced"])
            self.dropped.labels(*key, "stale").set(s["dropped_stale"])


def install(app: FastAPI) -> None:
    """The live routes, the ``/live`` page, and the gauges fed by the live hook."""
    pages = Pages()
    app.include_router(router)

    @app.get("/live", include_in_schema=False)
    def live_page(request: Request) -> Response:
        return pages.gate(request, "recognize") or pages.render(request, "live.html")

    hook = live_hook(app)
    if hook is not None:
        hook.on_stats = StreamGauges(app.state.metrics.registry).update
