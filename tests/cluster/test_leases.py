"""The lease store on SQLite and PostgreSQL: acquire, renew, expiry, epochs, release, fencing
of attendance and door events, stream names, singletons; and the lease keeper's cycle.

Expiry is waited for by polling with a generous bound, never asserted against a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from facegate.access.events import Attempt, DoorEvents
from facegate.access.store import AccessStore, DoorCamera
from facegate.attendance.service import Attendance
from facegate.cluster.node import LeaseKeeper, Timings
from facegate.cluster.store import CameraRow, ClusterStore, singleton
from facegate.events import RecognitionEvent
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import utcnow
from tests.access.conftest import SHANGHAI
from tests.access.test_store import Recording

pytestmark = pytest.mark.cluster
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def cluster(store: SqlStore) -> ClusterStore:
    return ClusterStore(store.db)


def eventually(check: Callable[[], Any], within_s: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (a generous bound, not a limit)."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_acquire_renew_expire_and_epochs(cluster: ClusterStore):
    assert cluster.acquire("door", "a", 30) == 1
    assert cluster.acquire("door", "b", 30) is None  # a holds it
    assert cluster.renew("door", "a", 1, 30)
    assert not cluster.renew("door", "b", 1, 30) and not cluster.renew("door", "a", 2, 30)
    assert [(x.camera, x.node, x.epoch) for x in cluster.leases()] == [("door", "a", 1)]
    # a short lease runs out: b takes it with the next epoch, and a can no longer renew
    assert cluster.renew("door", "a", 1, 0.2)
    assert eventually(lambda: cluster.acquire("door", "b", 30)) == 2
    assert not cluster.renew("door", "a", 1, 30)
    assert cluster.epoch("door") == 2
    # the same node taking it again (e.g. another worker of its host) still bumps the epoch
    assert cluster.acquire("door", "b", 30) == 3
    # a release hands it over at once
    cluster.release("door", "b", 3)
    assert cluster.leases() == []
    assert cluster.acquire("door", "a", 30) == 4


def test_nodes_heartbeat_and_the_cluster_view(cluster: ClusterStore):
    cluster.register_node("a", "http://127.0.0.2:8000")
    cluster.register_node("b", "http://127.0.0.3:8000")
    cluster.upsert_camera(CameraRow("door", "0"))
    assert cluster.acquire("door", "a", 30) == 1
    view = {n["id"]: n for n in cluster.view(30)}
    assert view["a"] == {"id": "a", "url": "http://127.0.0.2:8000", "alive": True,
                         "cameras": ["door"]}  # fmt: skip
    assert view["b"]["alive"] and view["b"]["cameras"] == []
    # without heartbeats a node is no longer alive
    assert eventually(lambda: not any(n.alive for n in cluster.nodes(0.2)))

    def only_b_alive() -> bool:
        cluster.heartbeat("b", "http://127.0.0.3:8000")
        return [n.id for n in cluster.nodes(1.0) if n.alive] == ["b"]

    assert eventually(only_b_alive)


def test_cameras_upsert_keeps_the_pin_and_remove_drops_the_lease(cluster: ClusterStore):
    cluster.upsert_camera(CameraRow("usb", "0", "in", {"always_on": True}))
    assert cluster.pin("usb", "host-c") and not cluster.pin("nope", "host-c")
    cluster.upsert_camera(CameraRow("usb", "1", "out"))  # a restart's bootstrap
    (camera,) = cluster.cameras()
    assert (camera.source, camera.direction, camera.pinned_node) == ("1", "out", "host-c")
    assert not camera.always_on
    cluster.acquire("usb", "host-c", 30)
    assert cluster.remove_camera("usb") and cluster.cameras() == [] and cluster.leases() == []
    assert not cluster.remove_camera("usb")


def recognised(
    person_id: int, epoch: int | None, camera: str = "door", at: datetime = AT
) -> RecognitionEvent:
    return RecognitionEvent(
        kind="confirmed", stream=camera, at=at, track_id=1, person_id=person_id,
        person_name=None, score=0.7, epoch=epoch,
    )  # fmt: skip


def test_a_stale_epoch_cannot_log_attendance(
    make_settings: Any, store: SqlStore, cluster: ClusterStore
):
    attendance = Attendance(make_settings(attendance_cooldown_s=0), store.db)
    ann = store.create_person("Ann").id
    assert cluster.acquire("door", "a", 0.2) == 1
    assert attendance.record(recognised(ann, 1)).event is not None
    assert eventually(lambda: cluster.acquire("door", "b", 30)) == 2
    # the paused former owner wakes up and sees a face: captured after epoch 2 began
    time.sleep(0.05)
    refused = attendance.record(recognised(ann, 1, at=utcnow()))
    assert refused.event is None and refused.reason == "fenced"
    logged = attendance.record(recognised(ann, 2))
    assert logged.event is not None
    assert attendance.record(recognised(ann, None, camera="tcp-kiosk")).event is not None
    with store.db.read() as tx:
        rows = tx.execute("SELECT camera, epoch FROM attendance_events ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [("door", 1), ("door", 2), ("tcp-kiosk", None)]
    # a camera that never had a lease: its epoch-stamped writes are refused too
    assert attendance.record(recognised(ann, 1, camera="ghost")).reason == "fenced"


def test_a_stale_epoch_cannot_decide_at_a_door(store: SqlStore, cluster: ClusterStore):
    access = AccessStore(store.db)
    access.add_door("lobby", [DoorCamera("lobby-in", "in")])
    events = DoorEvents(access, SHANGHAI)
    out = Recording()

    def attempt(epoch: int | None) -> Attempt:  # seen now: after every epoch began
        return Attempt(
            door="lobby", camera="lobby-in", direction="in", confirmed=True, person_id=None,
            score=None, track_id=3, seen=time.time(), epoch=epoch,
        )  # fmt: skip

    assert cluster.acquire("lobby-in", "a", 0.2) == 1
    assert events.decide(attempt(1), out, now=AT) is not None
    assert eventually(lambda: cluster.acquire("lobby-in", "b", 30)) == 2
    time.sleep(0.05)
    assert events.decide(attempt(1), out, now=AT) is None and events.fenced == 1
    assert events.decide(attempt(2), out, now=AT) is not None
    with store.db.read() as tx:
        assert [r[0] for r in tx.execute("SELECT epoch FROM access_events ORDER BY id")] == [1, 2]


def test_stream_names_are_unique_while_alive(cluster: ClusterStore):
    cluster.upsert_camera(CameraRow("door", "0"))
    assert cluster.claim_stream("kiosk", "a", "t1", 30)
    assert not cluster.claim_stream("kiosk", "b", "t2", 30)  # live elsewhere
    assert not cluster.claim_stream("door", "b", "t3", 30)  # a camera's name
    assert cluster.streams(30) == [("kiosk", "a")]
    cluster.release_stream("kiosk", "t1")
    assert cluster.claim_stream("kiosk", "b", "t2", 30)
    # its node died (no heartbeat): the name is free again
    assert eventually(lambda: cluster.claim_stream("kiosk", "c", "t4", 0.2))
    cluster.heartbeat_streams(["t4"])
    assert not cluster.claim_stream("kiosk", "a", "t5", 30)


def test_a_singleton_job_runs_on_one_host_at_a_time(make_settings: Any, store: SqlStore):
    if store.db.dialect != "postgres":
        with store.db.write() as tx:
            assert singleton(tx, store.db, "purge")  # SQLite: one host, always
        return
    other = open_store(make_settings())  # another host's connection
    try:
        with store.db.write() as tx:
            assert singleton(tx, store.db, "purge")
            with other.db.write() as tx2:
                assert not singleton(tx2, other.db, "purge")
                assert singleton(tx2, other.db, "another-job")
        with other.db.write() as tx2:  # the lock went with the transaction
            assert singleton(tx2, other.db, "purge")
    finally:
        other.close()


def test_keepers_share_cameras_and_take_over_when_a_node_stops(make_settings: Any, store: SqlStore):
    """Three keepers (nodes) on one database: every camera leased exactly once, spread over
    the nodes; a keeper that stops (without releasing) loses its cameras to the others after
    its lease and heartbeat run out; a keeper that leaves cleanly hands over at once."""
    cluster = ClusterStore(store.db)
    for i in range(6):
        cluster.upsert_camera(CameraRow(f"cam{i}", "0"))
    timings = Timings(lease_s=1.5, renew_s=0.2, deadline_s=1.0, node_timeout_s=1.5)
    stores = [open_store(make_settings()) for _ in range(3)]
    keepers = [
        LeaseKeeper(ClusterStore(s.db), f"node-{i}", f"http://127.0.0.{i + 2}:8000", timings)
        for i, s in enumerate(stores)
    ]
    try:
        for k in keepers:
            k.start()

        def owners(nodes: int = 3) -> dict[str, str] | None:
            leased = {x.camera: x.node for x in cluster.leases()}
            held = [name for k in keepers if not k._stop.is_set() for name in k.held()]
            ok = len(leased) == 6 and sorted(held) == sorted(leased)
            return leased if ok and len(set(leased.values())) == nodes else None

        before = eventually(owners)
        assert before, cluster.leases()
        # node-0 dies: its thread stops renewing, nothing is released
        keepers[0]._stop.set()
        keepers[0]._thread.join()
        after = eventually(lambda: owners(2))
        assert after and "node-0" not in after.values(), cluster.leases()
        for camera, node in before.items():
            if node != "node-0":
                assert after[camera] == node  # nobody else's camera moved
        keepers[1].stop()  # a clean leave: node-2 soon has everything
        assert eventually(lambda: owners(1)), cluster.leases()
    finally:
        for k in keepers:
            k._stop.set()
        for s in stores:
            s.close()


def test_workers_of_one_host_share_the_node_and_never_run_a_camera_twice(
    make_settings: Any, store: SqlStore, tmp_path: Any
):
    """Two workers of one host (same node id, same data dir): the camera's file lock picks
    the one that leases and runs it; when that worker dies (its lock goes with it), the other
    takes the camera over under a new epoch."""
    from facegate.live.manager import OwnerLock

    cluster = ClusterStore(store.db)
    cluster.upsert_camera(CameraRow("cam", "0"))
    timings = Timings(lease_s=5, renew_s=0.2, deadline_s=3, node_timeout_s=5)
    stores = [open_store(make_settings()) for _ in range(2)]
    locks = [OwnerLock(tmp_path / "live" / "camera-cam.lock") for _ in range(2)]
    workers = [
        LeaseKeeper(ClusterStore(s.db), "host", "http://127.0.0.1:8000", timings,
                    may_run=lambda name, lock=lock: lock.try_acquire())  # type: ignore[misc]  # bound per worker
        for s, lock in zip(stores, locks, strict=True)
    ]  # fmt: skip
    try:
        for w in workers:
            w.start()
        for _ in range(10):  # over several cycles of both: never two at once
            holders = [i for i, w in enumerate(workers) if "cam" in w.held()]
            assert len(holders) <= 1 and sum(lock.held for lock in locks) == 1
            time.sleep(0.1)
        holders = eventually(lambda: [i for i, w in enumerate(workers) if "cam" in w.held()])
        dead = holders[0]
        epoch = workers[dead].held()["cam"].epoch
        workers[dead]._stop.set()
        workers[dead]._thread.join()
        locks[dead].release()  # what the kernel does when the process dies
        other = workers[1 - dead]
        taken = eventually(lambda: other.held().get("cam"))
        assert taken and taken.epoch == epoch + 1
    finally:
        for w in workers:
            w._stop.set()
        for lock in locks:
            lock.release()
        for s in stores:
            s.close()


def test_attendance_takes_a_listed_cameras_direction(
    make_settings: Any, store: SqlStore, cluster: ClusterStore
):
    cluster.upsert_camera(CameraRow("exit", "0", "out"))  # e.g. `facegate cameras add`
    attendance = Attendance(make_settings(attendance_cameras={"lobby": "in"}), store.db)
    ann = store.create_person("Ann").id
    logged = attendance.record(recognised(ann, None, camera="exit")).event
    assert logged is not None and logged.direction == "out"
    assert attendance.direction("lobby") == "in" and attendance.direction("other") == "both"
