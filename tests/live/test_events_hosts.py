"""Two real ``facegate serve`` processes ("hosts" a and b, their own data dirs and node ids) on
one PostgreSQL database: an event published on b (a check-in by photo, the cheapest real
publisher) reaches a ``/ws/events`` listener on a with b's node id, through the live event
log and NOTIFY, with no host-to-host connection; a listener on a that reconnects with
``?after=`` gets b's events it missed, once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests.pg import create_database, drop_database
from tests.serving import Server, create_key, free_port, start_server

pytestmark = pytest.mark.postgres
PHOTO_PERSON = "Barack_Obama"


@pytest.fixture(scope="module")
def hosts(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = create_database(pg_admin_url, "live_hosts")
    root = tmp_path_factory.mktemp("hosts")
    env = {"FACEGATE_DATABASE_URL": url, "FACEGATE_INFERENCE_THREADS": "1"}
    create_key(root / "a", "admin", url)  # migrates the database before both servers start
    keys = {scope: create_key(root / "a", scope, url) for scope in ("monitor", "checkin")}
    servers: dict[str, Server] = {}
    try:
        for name in ("a", "b"):
            node_env = {**env, "FACEGATE_CLUSTER_NODE_ID": f"host-{name}"}
            servers[name] = start_server(root / name, free_port(), "--no-stream", env=node_env)
        for server in servers.values():
            server.wait_ready()
        yield {"servers": servers, "keys": keys}
    finally:
        for server in servers.values():
            server.stop()
        drop_database(pg_admin_url, "live_hosts")


def check_in(base: str, key: str, photo: Path) -> None:
    answer = httpx.post(
        f"{base}/api/v1/attendance/checkin",
        files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        headers={"X-API-Key": key},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


def listen(base: str, key: str, query: str = "") -> ClientConnection:
    url = base.replace("http://", "ws://") + "/ws/events" + query
    return ws_connect(url, additional_headers={"X-API-Key": key}, open_timeout=30)


def next_event(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.recv(timeout=60))
    return event


def test_another_hosts_events_reach_a_listener_and_replay_after_a_reconnect(
    hosts: dict[str, Any], faces_dir: Path
):
    a, b = hosts["servers"]["a"], hosts["servers"]["b"]
    monitor, checkin = hosts["keys"]["monitor"], hosts["keys"]["checkin"]
    photo = sorted((faces_dir / "people" / PHOTO_PERSON).iterdir())[0]

    with listen(a.base, monitor) as ws:
        check_in(b.base, checkin, photo)
        first = next_event(ws)
    assert first["node"] == "host-b" and first["stream"] == "api", first
    assert isinstance(first["id"], int) and first["kind"] in ("unknown", "checkin")

    for _ in range(2):  # while a's listener is away
        check_in(b.base, checkin, photo)
    with listen(a.base, monitor, f"?after={first['id']}") as ws:
        missed = [next_event(ws), next_event(ws)]
        check_in(a.base, checkin, photo)  # and one of a's own, live
        own = next_event(ws)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2)  # nothing twice
    assert [e["node"] for e in missed] == ["host-b", "host-b"]
    assert own["node"] == "host-a"
    ids = [first["id"]] + [e["id"] for e in missed] + [own["id"]]
    assert ids == sorted(ids) and len(set(ids)) == 4


def test_the_publishing_host_and_another_see_an_event_about_as_soon(
    hosts: dict[str, Any], faces_dir: Path
):
    """Listeners on a and b, one check-in on b: b's learns of it from its own writer, a's by
    NOTIFY. Prints how much later a's arrived (no bound: a shared machine)."""
    a, b = hosts["servers"]["a"], hosts["servers"]["b"]
    monitor, checkin = hosts["keys"]["monitor"], hosts["keys"]["checkin"]
    photo = sorted((faces_dir / "people" / PHOTO_PERSON).iterdir())[0]
    arrived: dict[str, tuple[float, dict[str, Any]]] = {}
    with listen(a.base, monitor) as on_a, listen(b.base, monitor) as on_b:

        def receive(name: str, ws: ClientConnection) -> None:
            event = next_event(ws)
            arrived[name] = (time.perf_counter(), event)

        threads = [
            threading.Thread(target=receive, args=("a", on_a)),
            threading.Thread(target=receive, args=("b", on_b)),
        ]
        for thread in threads:
            thread.start()
        check_in(b.base, checkin, photo)
        for thread in threads:
            thread.join(90)
    assert arrived["a"][1] == arrived["b"][1]  # the same row, id and node
    assert arrived["a"][1]["node"] == "host-b"
    later_ms = 1000 * (arrived["a"][0] - arrived["b"][0])
    print(f"\nb's event on a's socket {later_ms:+.0f} ms after b's")
