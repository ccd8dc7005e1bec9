"""The live event log on SQLite and a real PostgreSQL: rows in id order with the name read from
``people``, the writer taking events off the bus (and NOTIFYing ids on PostgreSQL), deletion
of a person erasing their rows, retention, and the feed handing a resuming listener exactly
the rows it missed while two "hosts" append concurrently."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from facegate.events import EventBus, RecognitionEvent
from facegate.gallery import SqlStore
from facegate.gallery.db import Database, PostgresDatabase, another_connection
from facegate.live import event_feed
from facegate.live.event_feed import EventFeed, FellBehind
from facegate.live.event_log import EVENTS_CHANNEL, EventLog
from facegate.live.event_writer import EventWriter
from tests.storage import make_settings, store  # noqa: F401 (fixtures)


def event(stream: str = "door", person: int | None = None, track: int = 1) -> RecognitionEvent:
    return RecognitionEvent(
        kind="confirmed" if person is not None else "unknown",
        stream=stream,
        at=datetime.now(UTC),
        track_id=track,
        person_id=person,
        person_name="stale name from the publisher" if person is not None else None,
        score=0.71234,
        box=(10.04, 20.0, 30.0, 40.0),
        snapshot=b"\xff\xd8 never stored",
        epoch=3,
    )


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


@pytest.fixture
def db(store: SqlStore) -> Iterator[Database]:  # noqa: F811
    """The event log's own connection, as the hook opens it."""
    own = another_connection(store.db)
    yield own
    own.close()


def test_rows_come_back_in_id_order_with_the_current_name_and_the_node(
    store: SqlStore,  # noqa: F811
    db: Database,
):
    log = EventLog(db)
    ada = store.create_person("Ada").id
    ids = log.append([event(person=ada), event("lobby", None, 2)], "node-a")
    ids += log.append([event(person=ada, track=3)], None)
    assert ids == sorted(ids) and len(set(ids)) == 3
    rows = log.after(0, 10)
    assert [r.id for r in rows] == ids
    first = rows[0].as_dict()
    assert first == {
        **event(person=ada).as_dict(),
        "at": first["at"],
        "person": {"id": ada, "name": "Ada"},  # read from people, not what was published
        "id": ids[0],
        "node": "node-a",
    }
    assert first["box"] == [10.0, 20.0, 30.0, 40.0] and first["similarity"] == 0.7123
    assert rows[1].as_dict()["person"] is None and rows[2].node is None
    assert log.after(ids[1], 10) == rows[2:]
    store.rename_person(ada, "Ada Lovelace")
    assert log.after(0, 1)[0].event.person_name == "Ada Lovelace"
    replay = log.replay(ids[0], 1)
    assert [r.id for r in replay.events] == [ids[2]] and replay.newest == ids[2]


def test_deleting_a_person_erases_their_rows_and_their_later_events(
    store: SqlStore,  # noqa: F811
    db: Database,
):
    log = EventLog(db)
    ada, bob = store.create_person("Ada").id, store.create_person("Bob").id
    log.append([event(person=ada), event(person=bob), event()], "n")
    store.delete_person(ada)
    left = log.after(0, 10)
    assert [r.event.person_id for r in left] == [bob, None]
    assert log.append([event(person=ada)], "n") == []  # gone before it was logged
    assert len(log.after(0, 10)) == 2


def test_merging_two_people_moves_the_rows_to_the_one_kept(
    store: SqlStore,  # noqa: F811
    db: Database,
):
    log = EventLog(db)
    ada, dup = store.create_person("Ada").id, store.create_person("Ada (again)").id
    log.append([event(person=ada), event(person=dup)], "n")
    store.merge_people(dup, ada)
    assert [(r.event.person_id, r.event.person_name) for r in log.after(0, 10)] == [
        (ada, "Ada"),
        (ada, "Ada"),
    ]


def test_prune_deletes_only_rows_past_retention_by_the_database_clock(db: Database):
    log = EventLog(db)
    old, new = log.append([event(track=1), event(track=2)], "n")
    two_hours = "now() - interval '2 hours'" if db.dialect == "postgres" else "logged_at - 7200"
    with db.write() as tx:
        tx.execute(f"UPDATE live_events SET logged_at = {two_hours} WHERE id = ?", (old,))
    assert log.prune(keep_s=3600) == 1
    assert [r.id for r in log.after(0, 10)] == [new]
    assert log.prune(keep_s=3600) == 0


def test_the_writer_logs_bus_events_and_notifies_their_ids(
    store: SqlStore,  # noqa: F811
    db: Database,
):
    bus = EventBus()
    log = EventLog(db)
    written = threading.Event()
    writer = EventWriter(log, bus, "node-a", keep_s=3600, on_written=written.set)
    listener = None
    if db.dialect == "postgres":
        import psycopg

        assert isinstance(db, PostgresDatabase)
        listener = psycopg.connect(db.url, autocommit=True)
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
    writer.start()
    try:
        for track in range(5):
            bus.publish(event(track=track))
        rows = until(lambda: len(log.after(0, 10)) == 5 and log.after(0, 10), "5 logged rows")
        assert [r.event.track_id for r in rows] == list(range(5))
        assert {r.node for r in rows} == {"node-a"} and written.is_set()
        assert writer.written == 5 and writer.dropped == 0
        if listener is not None:
            payloads = []
            deadline = time.monotonic() + 10
            while str(rows[-1].id) not in payloads and time.monotonic() < deadline:
                payloads += [n.payload for n in listener.notifies(timeout=1, stop_after=1)]
            assert str(rows[-1].id) in payloads  # ids only: far below the 8000-byte limit
            assert all(p.isdigit() and len(p) < 20 for p in payloads), payloads
    finally:
        writer.stop()
        if listener is not None:
            listener.close()


def test_a_resuming_listener_gets_exactly_what_it_missed_while_two_hosts_append(
    store: SqlStore,  # noqa: F811
    db: Database,
):
    """Host a and host b append concurrently (each on its own connection); a listener that
    saw up to id ``cursor`` follows from it while they go on: it gets every id above the
    cursor once, in order."""
    logs = {name: EventLog(another_connection(store.db)) for name in ("a", "b")}
    reader = EventLog(db)
    first = logs["a"].append([event(track=t) for t in range(10)], "a")
    cursor = first[4]
    per_host = 40
    feed = EventFeed(reader, poll_s=0.05)
    feed.start()

    def append(name: str) -> None:
        for track in range(per_host):
            logs[name].append([event(stream=name, track=track)], name)

    async def follow(expected: int) -> list[int]:
        seen: list[int] = []
        async with feed.listening() as listener:
            async for row in listener.events(after=cursor):
                seen.append(row.id)
                if len(seen) == 1:  # replay started: now the hosts append
                    for name in logs:
                        threading.Thread(target=append, args=(name,), daemon=True).start()
                if len(seen) == expected:
                    break
        return seen

    try:
        seen = asyncio.run(asyncio.wait_for(follow(5 + 2 * per_host), 60))
    finally:
        feed.stop()
        for log in logs.values():
            log.db.close()
    everything = [r.id for r in reader.after(0, 1000)]
    assert len(everything) == 10 + 2 * per_host
    assert seen == [i for i in everything if i > cursor]
    assert feed.listeners == 0


def test_a_listener_that_does_not_keep_up_is_told_where_to_resume(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    """Its queue overflows: it ends with ``FellBehind`` naming the last id it was sent, rather
    than silently missing events (the socket then closes 1013 with that cursor)."""
    monkeypatch.setattr(event_feed, "LISTENER_QUEUE", 1)
    log = EventLog(db)
    feed = EventFeed(log, poll_s=0.05)
    feed.start()

    async def lagging() -> int:
        async with feed.listening() as listener:
            start = listener.start
            log.append([event(track=0)], "n")
            while listener.queue.qsize() == 0:  # the first batch fills the queue
                await asyncio.sleep(0.02)
            log.append([event(track=1)], "n")
            while not listener.overflowed.is_set():  # the second finds it full
                await asyncio.sleep(0.02)
            sent = []
            with pytest.raises(FellBehind) as behind:
                async for row in listener.events():
                    sent.append(row)
            assert [r.event.track_id for r in sent] == [0]
            assert behind.value.cursor == sent[0].id > start
            return behind.value.cursor

    try:
        cursor = asyncio.run(asyncio.wait_for(lagging(), 60))
    finally:
        feed.stop()
    # resuming from the cursor replays everything it had not been sent
    assert [r.event.track_id for r in log.replay(cursor, 10).events] == [1]


def test_a_cursor_ahead_of_the_log_gets_what_is_logged_after_joining(db: Database):
    """A cursor from before a restore is above every id: the listener gets the events logged
    from its joining on, also one logged between joining and reading the replay."""
    log = EventLog(db)
    log.append([event(track=0)], "n")
    feed = EventFeed(log, poll_s=0.05)
    feed.start()

    async def scenario() -> int | None:
        async with feed.listening() as listener:
            log.append([event(track=1)], "n")  # after joining, before the replay is read
            events = listener.events(after=10**15)
            row = await anext(events)
            await events.aclose()
            return row.event.track_id

    try:
        assert asyncio.run(asyncio.wait_for(scenario(), 30)) == 1
    finally:
        feed.stop()
