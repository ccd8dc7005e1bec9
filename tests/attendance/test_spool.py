"""The local spool: events survive a process kill before they reach the database, a replay
of the same key is committed once (SQLite and PostgreSQL), and a full spool keeps the oldest."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from facegate.attendance.recorder import Recorder
from facegate.attendance.service import Attendance
from facegate.attendance.spool import Spool
from facegate.events import EventBus
from facegate.gallery import SqlStore
from tests.attendance.conftest import T0, minutes, seen

SPAWN = multiprocessing.get_context("spawn")


def _spool_then_hang(path: str, person_id: int, n: int, ready: Any) -> None:
    spool = Spool(Path(path))
    for i in range(n):
        spool.append(seen(person_id, T0 + minutes(10 * i)))
    ready.set()
    time.sleep(60)  # killed here: nothing was drained


def test_spooled_events_survive_a_kill_and_are_committed_once(
    make_settings: Any, store: SqlStore, tmp_path: Path
):
    ann = store.create_person("Ann").id
    path = tmp_path / "host" / "spool.db"
    ready = SPAWN.Event()
    child = SPAWN.Process(target=_spool_then_hang, args=(str(path), ann, 3, ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(10)
    spool = Spool(path)
    assert len(spool) == 3
    waiting = spool.peek()
    attendance = Attendance(make_settings(), store.db)
    # a crash after the commit and before the spool forgot it: the first event is replayed
    assert attendance.record(waiting[0].event, key=waiting[0].key).event is not None
    recorder = Recorder(attendance, EventBus(), spool=spool)
    recorder.start()
    deadline = time.monotonic() + 20
    while len(spool) and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.stop()
    assert len(spool) == 0
    assert recorder.recorded == 2 and recorder.duplicates == 1
    events = attendance.store.events(person_id=ann).items
    assert sorted(e.at for e in events) == [T0 + minutes(10 * i) for i in range(3)]
    spool.close()


def test_a_full_spool_keeps_the_oldest_and_refuses_the_newest(tmp_path: Path):
    spool = Spool(tmp_path / "spool.db", max_events=3)
    keys = [spool.append(seen(1, T0 + minutes(i))) for i in range(5)]
    assert all(keys[:3]) and keys[3:] == [None, None]
    assert spool.refused == 2
    assert [s.event.at for s in spool.peek()] == [T0 + minutes(i) for i in range(3)]
    spool.close()


def test_a_spooled_event_keeps_its_lease_epoch_and_what_the_log_needs(tmp_path: Path):
    """The drain writes what was spooled: a camera's epoch lost here would make fencing
    (facegate.cluster) pass every event from a former owner, and the log miss its epoch."""
    spool = Spool(tmp_path / "spool.db")
    camera_event = replace(seen(7, T0), epoch=5, box=(1.0, 2.0, 3.0, 4.0))
    stream_event = seen(8, T0 + minutes(1))
    spool.append(camera_event)
    spool.append(stream_event)
    back = [s.event for s in spool.peek()]
    assert [e.epoch for e in back] == [5, None]
    for sent, got in zip((camera_event, stream_event), back, strict=True):
        assert (got.kind, got.stream, got.at, got.track_id, got.person_id, got.box) == (
            sent.kind,
            sent.stream,
            sent.at,
            sent.track_id,
            sent.person_id,
            sent.box,
        )
        assert got.score == pytest.approx(sent.score)
    spool.close()
