"""The live event log through a PostgreSQL restart (a server of this module's own, tests/pg.py):
events published while the server is down wait in the writer (publishing never blocks) and
reach a listener that stayed connected, in order and once, when it is back; the feed's LISTEN
connection and reads recover by themselves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from facegate.config import Settings
from facegate.events import EventBus
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import PostgresDatabase, another_connection
from facegate.live.event_feed import EventFeed
from facegate.live.event_log import EVENTS_CHANNEL, EventLog
from facegate.live.event_writer import EventWriter
from tests.live.test_event_log import event
from tests.pg import PostgresCluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_own_cluster: PostgresCluster, tmp_path: Path) -> Iterator[SqlStore]:
    with psycopg.connect(pg_own_cluster.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_own_cluster.url,
        pg_connect_timeout_s=2,
        pg_reconnect_max_s=1.0,
    )
    store = open_store(settings)
    yield store
    store.close()


def test_an_outage_delays_live_events_and_they_arrive_in_order_after_it(
    pg_store: SqlStore, pg_own_cluster: PostgresCluster
):
    db = another_connection(pg_store.db)
    assert isinstance(db, PostgresDatabase)
    log = EventLog(db)
    bus = EventBus()
    feed = EventFeed(log, poll_s=2.0, listen=partial(db.listen, channel=EVENTS_CHANNEL))
    writer = EventWriter(log, bus, "n", keep_s=3600, on_written=feed.wake)
    feed.start()
    writer.start()

    async def scenario() -> list[int | None]:
        async with feed.listening() as listener:
            events = listener.events()
            bus.publish(event(track=0))
            seen = [(await anext(events)).event.track_id]
            await asyncio.to_thread(pg_own_cluster.halt)
            try:
                for track in (1, 2, 3):
                    bus.publish(event(track=track))  # returns at once: nothing waits on it
                await asyncio.sleep(1.5)
                assert writer.written == 1  # the writer holds them, retrying
            finally:
                await asyncio.to_thread(pg_own_cluster.resume)
            for _ in range(3):
                seen.append((await anext(events)).event.track_id)
            await events.aclose()
            return seen

    began = time.monotonic()
    try:
        seen = asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        writer.stop()
        feed.stop()
        db.close()
    assert seen == [0, 1, 2, 3]
    assert writer.dropped == 0 and writer.failed == 0
    print(f"\nfour events through a PostgreSQL restart in {time.monotonic() - began:.1f} s")
