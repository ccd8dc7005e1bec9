"""``/ws/events`` over the live event log, on the real app under uvicorn, on SQLite and on a real
PostgreSQL: live events carry ``id`` and ``node``; a listener that reconnects with
``?after=<last id>`` gets exactly what it missed, then live ones; a bad cursor gets a clear
close (1008 and a reason), never a 500. Events are published on the app's own bus, as the
pipelines and the check-in endpoint do."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from facegate.api import create_app
from facegate.config import Settings
from facegate.events import RecognitionEvent
from tests.inprocess import served
from tests.pg import create_database, drop_database


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def app_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str, str]]:
    """(app, base URL, monitor key) of a server without cameras or stream server."""
    url = admin = None
    if request.param == "postgres":
        admin = request.getfixturevalue("pg_admin_url")
        url = create_database(admin, "live_socket")
    settings = Settings(data_dir=tmp_path_factory.mktemp("events"), database_url=url)
    app = create_app(settings)
    try:
        with served(app) as base:
            _, monitor = app.state.keys.create("monitor", "events socket tests")
            yield app, base, monitor
    finally:
        if admin is not None:
            drop_database(admin, "live_socket")


def publish(app: Any, stream: str, track: int) -> None:
    app.state.services.events.publish(
        RecognitionEvent("unknown", stream, datetime.now(UTC), track, None, None, 0.3)
    )


def socket(base: str, key: str, query: str = "") -> ClientConnection:
    url = base.replace("http://", "ws://") + "/ws/events" + query
    return ws_connect(url, additional_headers={"X-API-Key": key}, open_timeout=30)


def take(ws: ClientConnection, count: int, stream: str) -> list[dict[str, Any]]:
    """The next ``count`` events of ``stream`` (other tests' streams are skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        event = json.loads(ws.recv(timeout=30))
        if event["stream"] == stream:
            found.append(event)
    return found


def test_live_events_carry_an_id_and_the_publishing_node(app_url: tuple[Any, str, str]):
    app, base, key = app_url
    delays = []
    with socket(base, key) as ws:
        events = []
        for track in range(3):
            began = time.perf_counter()
            publish(app, "live", track)
            events += take(ws, 1, "live")
            delays.append(time.perf_counter() - began)
    db = app.state.event_log_hook.db.dialect
    shown = ", ".join(f"{d * 1000:.0f}" for d in delays)
    print(f"\n{db}: publish -> /ws/events message (ms) {shown}")
    assert [e["track_id"] for e in events] == [0, 1, 2]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 3
    node = app.state.services.cluster.id
    assert {e["node"] for e in events} == {node}
    assert set(events[0]) == {
        "kind", "stream", "at", "track_id", "person", "similarity", "box", "id", "node",
    }  # fmt: skip


def test_a_reconnecting_listener_gets_exactly_what_it_missed(app_url: tuple[Any, str, str]):
    app, base, key = app_url
    with socket(base, key) as ws:
        publish(app, "resume", 0)
        seen = take(ws, 1, "resume")
    for track in range(1, 5):  # while nobody listens
        publish(app, "resume", track)
    writer = app.state.event_log_hook.writer
    cursor = seen[-1]["id"]
    with socket(base, key, f"?after={cursor}") as ws:
        missed = take(ws, 4, "resume")
        publish(app, "resume", 5)
        live = take(ws, 1, "resume")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1)  # nothing twice
    tracks = [e["track_id"] for e in missed + live]
    assert tracks == [1, 2, 3, 4, 5], tracks
    ids = [e["id"] for e in missed + live]
    assert ids == sorted(ids) and ids[0] > cursor and writer.dropped == 0


def test_a_cursor_ahead_of_the_log_counts_as_its_newest_id(app_url: tuple[Any, str, str]):
    app, base, key = app_url
    with socket(base, key, f"?after={10**15}") as ws:
        publish(app, "ahead", 0)
        assert take(ws, 1, "ahead")[0]["track_id"] == 0


@pytest.mark.parametrize("after", ["abc", "-1", "", "1.5", "9" * 25, str(2**63), "١٢"])
def test_a_bad_cursor_gets_a_clear_close(app_url: tuple[Any, str, str], after: str):
    _, base, key = app_url
    with socket(base, key, f"?after={after}") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "after must be an event id" in closed.value.rcvd.reason


def test_the_log_holds_no_snapshot_bytes(app_url: tuple[Any, str, str], tmp_path: Path):
    app, base, key = app_url
    with socket(base, key) as ws:
        app.state.services.events.publish(
            RecognitionEvent(
                "unknown", "snap", datetime.now(UTC), 1, None, None, 0.3, snapshot=b"JPEGBYTES"
            )
        )
        take(ws, 1, "snap")
    db = app.state.event_log_hook.db
    with db.read() as tx:
        columns = [r for r in tx.execute("SELECT * FROM live_events WHERE stream = 'snap'")]
    assert columns and not any(b"JPEGBYTES" in repr(c).encode() for c in columns)
