"""Revoking a key ends what it opened, on a real ``facegate serve --workers 2`` with a camera:
MJPEG viewers (served locally and relayed from the other worker), ``/ws/events`` sockets on
both workers and the pages' session; another key's viewer goes on. The time from
``facegate keys revoke`` to each close is printed (the check period is 1 s; the bound below
is only there so a broken build fails instead of hanging)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests.live.conftest import CAMERA, Parts
from tests.serving import free_port, fresh, new_key, revoke_key, serving

GIVE_UP_S = 60.0  # never reached when revocation works; a hang would be a failure


@pytest.fixture(scope="module")
def served(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("revoke")
    video = faces_dir / "videos" / "obama.mp4"
    env = {"FACEGATE_INFERENCE_THREADS": "1", "FACEGATE_LIVE_IDLE_STOP_S": "1"}
    port = free_port()
    args = ("--workers", "2", "--no-stream", "--camera", f"{CAMERA}={video}")
    with serving(data, port, *args, env=env) as base:
        yield {"base": base, "data": data}


def open_viewers(base: str, key: str, stack: contextlib.ExitStack) -> dict[str, Parts]:
    """MJPEG viewers until both workers serve one (one local to the camera, one relayed)."""
    viewers: dict[str, Parts] = {}
    for _ in range(24):
        client = stack.enter_context(fresh(base))
        response = stack.enter_context(
            client.stream("GET", f"/streams/{CAMERA}/mjpeg", headers={"X-API-Key": key})
        )
        assert response.status_code == 200
        worker = response.headers["x-facegate-worker"]
        if worker not in viewers:
            viewers[worker] = Parts(response)
            viewers[worker].take(1)
        if len(viewers) == 2:
            break
    assert len(viewers) == 2, "both workers should have served a viewer"
    return viewers


def open_sockets(base: str, key: str, stack: contextlib.ExitStack) -> dict[str, ClientConnection]:
    url = base.replace("http://", "ws://") + "/ws/events"
    sockets: dict[str, ClientConnection] = {}
    for _ in range(24):
        ws = stack.enter_context(ws_connect(url, additional_headers={"X-API-Key": key}))
        assert ws.response is not None
        worker = ws.response.headers["x-facegate-worker"]
        sockets.setdefault(worker, ws)
        if len(sockets) == 2:
            break
    assert len(sockets) == 2, "both workers should have accepted a socket"
    return sockets


def until_mjpeg_ends(viewer: Parts, since: float) -> float:
    """Read parts until the response ends; seconds from ``since``."""
    try:
        for _ in viewer._chunks:
            assert time.monotonic() - since < GIVE_UP_S, "the viewer was never closed"
    except httpx.HTTPError:
        pass  # the connection was closed rather than the body ended: closed all the same
    return time.monotonic() - since


def until_socket_closes(ws: ClientConnection, since: float) -> tuple[float, int | None]:
    while True:
        try:
            ws.recv(timeout=GIVE_UP_S)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            return time.monotonic() - since, code
        assert time.monotonic() - since < GIVE_UP_S, "the socket was never closed"


def test_revoking_a_key_closes_its_viewers_sockets_and_session(served: dict[str, Any]):
    base, data = served["base"], served["data"]
    key_id, key = new_key(data, "monitor")
    _, other = new_key(data, "monitor")
    with contextlib.ExitStack() as stack:
        viewers = open_viewers(base, key, stack)
        others = open_viewers(base, other, stack)
        sockets = open_sockets(base, key, stack)
        page = stack.enter_context(fresh(base))
        signed_in = page.post("/login", data={"key": key}, follow_redirects=True)
        assert signed_in.status_code == 200 and "/live" in str(signed_in.url)

        revoke_key(data, key_id)
        since = time.monotonic()
        closed = {f"mjpeg@{w}": until_mjpeg_ends(v, since) for w, v in viewers.items()}
        for worker, ws in sockets.items():
            took, code = until_socket_closes(ws, since)
            assert code == 1008  # policy violation: the key was revoked
            closed[f"ws@{worker}"] = took
        print("seconds from revoke to close:", {k: round(v, 2) for k, v in closed.items()})

        again = page.get("/live", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"].startswith("/login")
        assert page.get("/api/v1/live/streams").status_code == 401
        for viewer in others.values():  # another key's viewers are not affected
            assert len(viewer.take(3)) == 3
