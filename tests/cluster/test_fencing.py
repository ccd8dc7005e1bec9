"""Fencing by capture time (facegate.cluster.fencing) on SQLite and PostgreSQL: an event under
lease epoch E is accepted iff it was captured before epoch E+1 began.

Events go through the real spool and its drain thread (what happens after a PostgreSQL
outage); door decisions through ``DoorEvents.decide``, which only the current epoch may make.
Lease expiry is waited for by polling
(a generous bound); capture times are taken on either side of the takeover, never asserted
against a clock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facegate.access.events import Attempt, DoorEvents
from facegate.access.store import AccessStore, DoorCamera
from facegate.attendance.recorder import Recorder
from facegate.attendance.service import Attendance
from facegate.attendance.spool import Spool
from facegate.cluster.fencing import fence_ok, prune_epochs
from facegate.cluster.store import CameraRow, ClusterStore
from facegate.events import EventBus, RecognitionEvent
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import utcnow
from tests.access.conftest import SHANGHAI
from tests.access.test_store import Recording
from tests.cluster.test_leases import eventually, recognised

pytestmark = pytest.mark.cluster
GAP_S = 0.05  # between a capture and the takeover on either side of it


@pytest.fixture
def cluster(store: SqlStore) -> ClusterStore:
    return ClusterStore(store.db)


def take_over(cluster: ClusterStore, camera: str, node: str = "b") -> int:
    """Wait for ``camera``'s short lease to run out and take it for ``node``: the new epoch,
    with a capture gap on either side."""
    time.sleep(GAP_S)
    epoch = eventually(lambda: cluster.acquire(camera, node, 30))
    assert epoch, cluster.leases()
    time.sleep(GAP_S)
    return int(epoch)


def drain(attendance: Attendance, spool: Spool) -> Recorder:
    """What a host does when PostgreSQL answers again: the drain thread empties the spool."""
    recorder = Recorder(attendance, EventBus(), spool=spool)
    recorder.start()
    eventually(lambda: len(spool) == 0)
    recorder.stop()
    assert len(spool) == 0
    return recorder


def logged(store: SqlStore) -> list[tuple[int, int | None]]:
    with store.db.read() as tx:
        rows = tx.execute("SELECT track_id, epoch FROM attendance_events ORDER BY track_id")
    return [(int(r[0]), None if r[1] is None else int(r[1])) for r in rows]


def captured(person: int, epoch: int, track: int, at: datetime | None = None) -> RecognitionEvent:
    return replace(recognised(person, epoch, at=at or utcnow()), track_id=track)


def test_spooled_events_count_when_captured_before_the_next_epoch(
    make_settings: Any, store: SqlStore, cluster: ClusterStore, tmp_path: Path
):
    """Host a spools events under epoch 1 while the database is away; b takes the camera
    (epoch 2) meanwhile. When a's spool drains, what a captured before epoch 2 began is
    logged; what it captured after (it had not noticed yet) is refused as fenced."""
    attendance = Attendance(make_settings(attendance_cooldown_s=0), store.db)
    ann = store.create_person("Ann").id
    spool = Spool(tmp_path / "a" / "spool.db")
    assert cluster.acquire("door", "a", 0.3) == 1
    spool.append(captured(ann, 1, track=1))
    assert take_over(cluster, "door") == 2
    spool.append(captured(ann, 1, track=2))  # a former owner that did not know yet
    spool.append(captured(ann, 2, track=3))  # b's own event
    recorder = drain(attendance, spool)
    assert (recorder.recorded, recorder.fenced) == (2, 1)
    assert logged(store) == [(1, 1), (3, 2)]
    spool.close()


def test_a_node_taking_its_own_camera_again_keeps_its_spooled_events(
    make_settings: Any, store: SqlStore, cluster: ClusterStore, tmp_path: Path
):
    """The same node re-acquiring after an expiry bumps the epoch (fencing its other
    workers); its events spooled under the old epoch before that still count."""
    attendance = Attendance(make_settings(attendance_cooldown_s=0), store.db)
    ann = store.create_person("Ann").id
    spool = Spool(tmp_path / "a" / "spool.db")
    assert cluster.acquire("door", "a", 0.3) == 1
    spool.append(captured(ann, 1, track=1))
    spool.append(captured(ann, 1, track=2))
    assert take_over(cluster, "door", node="a") == 2
    recorder = drain(attendance, spool)
    assert (recorder.recorded, recorder.fenced) == (2, 0)
    assert logged(store) == [(1, 1), (2, 1)]
    spool.close()


def test_door_decisions_are_made_only_under_the_current_epoch(
    store: SqlStore, cluster: ClusterStore
):
    """A decision opens the door now: a former owner's attempt is refused even when its face
    was seen while it still held the camera (it was paused, then woke), unlike a log event."""
    access = AccessStore(store.db)
    access.add_door("lobby", [DoorCamera("lobby-in", "in")])
    events = DoorEvents(access, SHANGHAI)
    out = Recording()

    def attempt(epoch: int, seen: float) -> Attempt:
        return Attempt(
            door="lobby", camera="lobby-in", direction="in", confirmed=True, person_id=None,
            score=None, track_id=3, seen=seen, epoch=epoch,
        )  # fmt: skip

    assert cluster.acquire("lobby-in", "a", 0.3) == 1
    before = time.time()
    assert events.decide(attempt(1, before), out) is not None  # the owner, in time
    assert take_over(cluster, "lobby-in") == 2
    after = time.time()
    assert events.decide(attempt(1, before), out) is None  # seen while a held it: too late
    assert events.decide(attempt(1, after), out) is None and events.fenced == 2
    assert events.decide(attempt(2, after), out) is not None
    assert events.decide(attempt(3, after), out) is None  # an epoch that never was
    with store.db.read() as tx:
        assert [r[0] for r in tx.execute("SELECT epoch FROM access_events ORDER BY id")] == [1, 2]


def test_capture_times_are_compared_on_the_database_clock(
    make_settings: Any, store: SqlStore, cluster: ClusterStore
):
    """A former owner whose clock runs a minute behind stamps a face seen after the takeover
    with a time before it: judged on the database's clock, it is refused; one whose clock
    runs ahead keeps an event it saw before the takeover. (SQLite serves one host: its clock
    is the host's, there is no skew to correct.)"""
    if store.db.dialect != "postgres":
        pytest.skip("host clock skew only exists between a host and a PostgreSQL server")
    ann = store.create_person("Ann").id

    def skewed(by_s: float) -> Attendance:
        def host_clock() -> datetime:
            return utcnow() + timedelta(seconds=by_s)

        settings = make_settings(attendance_cooldown_s=0)
        return Attendance(settings, store.db, host_clock=host_clock)

    behind, ahead = skewed(-60), skewed(+60)
    assert cluster.acquire("door", "a", 0.3) == 1
    seen_before = utcnow() + timedelta(seconds=60)  # ahead's clock
    assert take_over(cluster, "door") == 2
    seen_after = utcnow() - timedelta(seconds=60)  # behind's clock
    assert behind.record(captured(ann, 1, track=1, at=seen_after)).reason == "fenced"
    assert ahead.record(captured(ann, 1, track=2, at=seen_before)).event is not None
    assert logged(store) == [(2, 1)]


def test_a_pruned_epoch_start_fences_the_old_epoch(
    make_settings: Any, store: SqlStore, cluster: ClusterStore
):
    """Without the next epoch's start (pruned by the housekeeping, or from before migration
    15) nothing proves an old event was captured in time: it is refused. The housekeeping
    keeps recent starts; removing a camera drops its history."""
    attendance = Attendance(make_settings(attendance_cooldown_s=0), store.db)
    ann = store.create_person("Ann").id
    cluster.upsert_camera(CameraRow("door", "0"))
    assert cluster.acquire("door", "a", 0.3) == 1
    early = captured(ann, 1, track=1)
    assert take_over(cluster, "door") == 2
    assert cluster.housekeep(600) == []  # recent starts stay
    with store.db.write() as tx:
        assert prune_epochs(tx, store.db, 600) == 0
        assert prune_epochs(tx, store.db, 0) == 2
    assert attendance.record(early).reason == "fenced"
    assert cluster.acquire("door", "b", 30) == 3
    assert cluster.remove_camera("door")
    with store.db.read() as tx:
        assert tx.execute("SELECT COUNT(*) FROM camera_epochs")[0][0] == 0


def test_the_next_epoch_starts_after_a_write_that_held_the_lease(
    make_settings: Any, store: SqlStore, cluster: ClusterStore
):
    """A write under epoch 1 is in its transaction (the lease row share-locked on PostgreSQL,
    the write lock on SQLite) when another host takes the expired lease: the takeover waits,
    and epoch 2's recorded start comes after the write's commit, so the write's capture time
    is before it, whatever the timing."""
    assert cluster.acquire("door", "a", 0.2) == 1
    eventually(lambda: not cluster.leases())  # expired, not yet taken
    other = open_store(make_settings())  # the taking host's own connection
    taken: list[int | None] = []
    try:
        with store.db.write() as tx:
            assert fence_ok(tx, store.db, "door", 1, utcnow())
            taker = threading.Thread(
                target=lambda: taken.append(ClusterStore(other.db).acquire("door", "b", 30))
            )
            taker.start()
            time.sleep(0.5)  # the taker is waiting on the lease row (or the write lock)
            assert taken == []
            committed = utcnow()
        taker.join(30)
        assert taken == [2]
    finally:
        other.close()
    with store.db.read() as tx:
        (row,) = tx.execute("SELECT started_at FROM camera_epochs WHERE epoch = 2")
    started = store.db.from_db_time(row[0]) if store.db.dialect == "postgres" else row[0]
    started_s = started.timestamp() if isinstance(started, datetime) else float(started)
    assert started_s > committed.timestamp()
