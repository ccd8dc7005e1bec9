"""The live view: ``/live`` (page), ``/api/v1/live/streams``, ``/streams/{name}/mjpeg`` and
``/ws/events``; plus per-stream gauges for ``/metrics`` (built at each scrape).

Authentication is the pages' (docs/api.md): the session cookie, or an API key header, with
the ``monitor`` scope (``admin`` includes it; a camera's ``recognize`` key cannot watch). An
``<img src="/streams/...">`` on the page sends the cookie because it is same-origin
(SameSite=Strict still sends it); so does the page's WebSocket, whose ``Origin`` must also be
this host, so another site's script cannot open it with the visitor's cookie. Revoking the
key closes its MJPEG responses and sockets within about a second (facegate.api.revocation).

MJPEG (``multipart/x-mixed-replace``) rather than WebRTC or HLS: an ``<img>`` tag plays it
with no JavaScript, each part is a complete JPEG (a dropped frame never corrupts the next),
and the server decides the pace. With several workers, a stream this worker does not have
is relayed from the worker that does (facegate.live.relay). ``/ws/events`` serves every
worker's and every host's events from the live event log (facegate.live.event_feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any
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
from prometheus_client.core import GaugeMetricFamily
from starlette.websockets import WebSocketState

from facegate.api.auth import page, require
from facegate.api.keys import ApiKey
from facegate.api.revocation import RevocationWatch, until_set
from facegate.api.web.pages import Pages
from facegate.errors import Busy, DatabaseUnavailable, InvalidInput
from facegate.live.event_feed import FellBehind
from facegate.live.event_log import LoggedEvent
from facegate.live.event_log_hook import EventLogHook
from facegate.live.hook import LiveHook
from facegate.live.hub import TooManyViewers
from facegate.live.remote import remote_mjpeg, remote_streams

log = logging.getLogger(__name__)
router = APIRouter()
BOUNDARY = "frame"
FRAME_WAIT_S = 5.0  # a viewer re-checks its channel at least this often
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN = 1013
MAX_EVENT_ID = 2**63 - 1


def live_hook(app: Any) -> LiveHook | None:
    return next((h for h in app.state.hooks if isinstance(h, LiveHook)), None)


def _part(jpeg: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + b"\r\n"
    )


MONITOR = require("monitor")


async def host_parts(hook: LiveHook | None, name: str) -> AsyncIterator[bytes] | None:
    """The MJPEG body of ``name`` when this host runs it: in this worker, or in a sibling
    worker through the relay. None when this host does not run it."""
    if hook is None or hook.hub is None:
        return None
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

        return local()
    relayed = await hook.relay.peer_frames(name) if hook.relay is not None else None
    if relayed is None:
        return None

    async def remote(frames: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
        try:
            async for jpeg in frames:
                yield _part(jpeg)
        finally:
            await frames.aclose()  # closes the peer connection: the owner's viewer leaves

    return remote(relayed)


@router.get("/api/v1/live/streams", tags=["live"], dependencies=[Depends(MONITOR)])
async def streams(request: Request) -> dict[str, Any]:
    """Every active stream of the cluster (TCP clients and cameras) with fps, latency, drops
    and the ``node`` that runs it: this host's, then the other nodes' (facegate.live.remote)."""
    hook = live_hook(request.app)
    mine = await hook.all_streams() if hook is not None else []
    cluster = request.app.state.services.cluster
    if cluster is None:
        return {"streams": mine}
    others = await remote_streams(cluster)
    return {"streams": [dict(s, node=cluster.id) for s in mine] + others}


@router.get(
    "/streams/{name}/mjpeg",
    tags=["live"],
    response_class=StreamingResponse,
    responses={200: {"content": {"multipart/x-mixed-replace": {}}}},
)
async def mjpeg(
    request: Request, name: str, key: Annotated[ApiKey | None, Depends(MONITOR)]
) -> StreamingResponse:
    """The stream's frames with boxes, names (or "unknown") and track ids, as MJPEG; it ends
    when the key is revoked."""
    hook = live_hook(request.app)
    parts = await host_parts(hook, name)
    if parts is None:
        cluster = request.app.state.services.cluster
        parts = await remote_mjpeg(cluster, name) if cluster is not None else None
    if parts is None:
        raise HTTPException(404, f"no stream {name!r}")
    body: AsyncIterator[bytes] = parts
    revocations: RevocationWatch = request.app.state.revocations

    async def watched() -> AsyncIterator[bytes]:
        with revocations.watch(key) as revoked:
            async for part in until_set(body, revoked):
                yield part

    return StreamingResponse(
        watched(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Facegate-Worker": str(os.getpid()),  # which worker answered (relayed or not)
        },
    )


def same_origin(ws: WebSocket) -> bool:
    """No ``Origin`` (not a browser) or this very host: another site's page cannot open the
    socket with the visitor's cookie."""
    origin = ws.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == ws.headers.get("host")


@router.websocket("/ws/events")
async def events(ws: WebSocket, key: Annotated[ApiKey | None, Depends(MONITOR)]) -> None:
    """Each recognition event of every host (``RecognitionEvent.as_dict()`` plus ``id`` and
    ``node``) as one JSON text message, in id order; ``?after=<id>`` first replays the events
    above that id (at most the newest 1000). Closed 1008 when the key is revoked or the cursor
    is not an id, 1013 when the listener fell behind or the database is away (reconnect with
    ``after``)."""
    if not same_origin(ws):
        await ws.close(code=WS_POLICY_VIOLATION)
        return
    revocations: RevocationWatch = ws.app.state.revocations
    with revocations.watch(key) as revoked:
        await _serve_events(ws, revoked)


def event_cursor(raw: str | None) -> int | None:
    """The ``after`` query parameter: None when absent, else an id from 0 to 2^63-1."""
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) > MAX_EVENT_ID:
        raise InvalidInput(f"after must be an event id, an integer from 0 to {MAX_EVENT_ID}")
    return int(raw)


async def _serve_events(ws: WebSocket, revoked: asyncio.Event) -> None:
    worker = [(b"x-facegate-worker", str(os.getpid()).encode())]
    hook: EventLogHook = ws.app.state.event_log_hook
    try:
        after = event_cursor(ws.query_params.get("after"))
    except InvalidInput as bad:
        await ws.accept(headers=worker)
        await ws.close(code=WS_POLICY_VIOLATION, reason=str(bad))
        return
    if hook.feed is None:
        await ws.accept(headers=worker)
        await ws.close(code=WS_TRY_AGAIN, reason="the live event log is not running")
        return
    try:
        # Joined before the handshake completes: an event published once the client is
        # connected is never missed.
        async with hook.feed.listening() as listener:
            await ws.accept(headers=worker)
            await _send_events(ws, listener.events(after), revoked)
    except Exception as error:  # joining the feed failed: a clear close, never a 500
        if ws.client_state != WebSocketState.CONNECTING:
            raise
        await ws.accept(headers=worker)
        await ws.close(code=WS_TRY_AGAIN, reason=_ended(error))


async def _send_events(
    ws: WebSocket, rows: AsyncGenerator[LoggedEvent, None], revoked: asyncio.Event
) -> None:
    """Send ``rows`` until the client leaves, the key is revoked or the rows end."""

    async def send_all() -> None:
        async with contextlib.aclosing(rows):
            async for row in rows:
                await ws.send_json(row.as_dict())

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    loop = asyncio.get_running_loop()
    sender = loop.create_task(send_all())
    closed = loop.create_task(until_closed())
    stop = loop.create_task(revoked.wait())
    tasks = (sender, closed, stop)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if stop in done:
            await ws.close(code=WS_POLICY_VIOLATION, reason="the API key was revoked")
        elif sender in done:
            reason = _ended(sender.exception())
            if reason is not None:
                await ws.close(code=WS_TRY_AGAIN, reason=reason)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _ended(error: BaseException | None) -> str | None:
    """The close reason for a listener whose events stopped, None when the client left."""
    if isinstance(error, FellBehind):
        return f"fell behind: reconnect with after={error.cursor}"
    if isinstance(error, DatabaseUnavailable):
        return "the database is unavailable: reconnect with after=<last id>"
    if error is not None and not isinstance(error, WebSocketDisconnect | ConnectionError):
        log.warning("live events: a listener ended (%s)", type(error).__name__)
        return "the event feed failed: reconnect with after=<last id>"
    return None


def stream_metric_families(stats: list[dict[str, Any]]) -> list[GaugeMetricFamily]:
    """Per-stream fps, latency, drops and viewers for Prometheus, built from the streams that
    exist at scrape time (every worker's, through the relay): a stream that is gone has no
    series any more, and no per-process metric file keeps it alive."""
    labels = ["stream", "kind"]
    fps = GaugeMetricFamily("facegate_stream_fps", "Frames processed per second", labels=labels)
    latency = GaugeMetricFamily(
        "facegate_stream_latency_seconds",
        "Frame in to result ready, server side, by quantile",
        labels=[*labels, "quantile"],
    )
    dropped = GaugeMetricFamily(
        "facegate_stream_dropped_frames",
        "Frames dropped since the stream started, by reason (replaced, stale)",
        labels=[*labels, "reason"],
    )
    viewers = GaugeMetricFamily("facegate_stream_viewers", "MJPEG viewers", labels=labels)
    for s in stats:
        key = [str(s["name"]), str(s["kind"])]
        fps.add_metric(key, s["fps"])
        viewers.add_metric(key, s["viewers"])
        latency.add_metric([*key, "0.5"], s["latency_ms_p50"] / 1000)
        latency.add_metric([*key, "0.95"], s["latency_ms_p95"] / 1000)
        dropped.add_metric([*key, "replaced"], s["dropped_replaced"])
        dropped.add_metric([*key, "stale"], s["dropped_stale"])
    return [fps, latency, dropped, viewers]


def install(app: FastAPI) -> None:
    """The live routes, the ``/live`` page, and the gauges fed by the live hook."""
    pages = Pages()
    app.include_router(router)

    @app.get("/live", include_in_schema=False, dependencies=[Depends(page("monitor"))])
    def live_page(request: Request) -> Response:
        return pages.render(request, "live.html")

    async def stream_families() -> list[GaugeMetricFamily]:
        hook = live_hook(app)
        return stream_metric_families(await hook.all_streams() if hook is not None else [])

    app.state.metrics.scrape_sources.append(stream_families)
