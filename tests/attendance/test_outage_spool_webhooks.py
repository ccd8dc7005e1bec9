"""A 15 s PostgreSQL stop in the middle of a stream of attendance events: every event waits in
the local spool, is committed exactly once when the server is back (idempotency key), and its
webhook is delivered at least once. A real server (stopped and started), a real receiver."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from facegate.attendance.recorder import Recorder
from facegate.attendance.service import Attendance
from facegate.attendance.spool import Spool
from facegate.bench.local_peers import Receiver
from facegate.config import Settings
from facegate.events import EventBus
from facegate.gallery import open_store
from tests.attendance.conftest import seen
from tests.gallery.test_pg_outages import FAST, wait_for
from tests.pg import PostgresCluster

pytestmark = pytest.mark.postgres
OUTAGE_S = 15.0


def test_a_15_s_stop_delays_events_and_loses_none(pg_own_cluster: PostgresCluster, tmp_path: Path):
    with psycopg.connect(pg_own_cluster.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    receiver = Receiver()
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_own_cluster.url,
        attendance_webhook_urls=[receiver.url],
        attendance_webhook_backoff_s=0.2,
        **FAST,
    )
    store = open_store(settings)
    people = [store.create_person(f"P{i}").id for i in range(8)]
    attendance = Attendance(settings, store.db)
    attendance.webhooks.poll_s = 0.1
    attendance.start()
    bus = EventBus()
    spool = Spool(tmp_path / "spool.db")
    recorder = Recorder(attendance, bus, spool=spool)
    recorder.start()
    try:
        for person in people[:2]:
            bus.publish(seen(person, datetime.now(UTC)))
        wait_for(lambda: recorder.recorded == 2, 20, "the events before the outage")
        pg_own_cluster.halt()
        stopped = time.monotonic()
        try:
            for person in people[2:]:  # spread over the outage
                bus.publish(seen(person, datetime.now(UTC)))
                time.sleep(OUTAGE_S / 8)
            waiting = len(spool)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        finally:
            pg_own_cluster.resume()
        wait_for(lambda: len(spool) == 0 and recorder.recorded == 8, 60, "the spool drained")
        wait_for(lambda: len(_delivered(receiver)) == 8, 60, "every webhook")
    finally:
        recorder.stop()
        attendance.stop()
        receiver.close()
    assert waiting == 6  # nothing reached the database while it was down; nothing dropped
    with psycopg.connect(pg_own_cluster.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT person_id, COUNT(*), COUNT(DISTINCT idem_key) FROM attendance_events "
            "GROUP BY person_id"
        ).fetchall()
    assert sorted((r[0], r[1], r[2]) for r in rows) == [(p, 1, 1) for p in sorted(people)]
    assert recorder.failed == 0 and recorder.dropped == 0
    assert _delivered(receiver) == {f"attendance-{r}" for r in _event_ids(pg_own_cluster.url)}
    store.close()


def _delivered(receiver: Receiver) -> set[str]:
    return {
        {k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in receiver.requests
    }


def _event_ids(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM attendance_events").fetchall()]
