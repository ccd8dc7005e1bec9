"""The durable log on SQLite and PostgreSQL: cooldown, time zones, privacy, retention, CSV."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from facegate.attendance.reports import daily_csv, daily_report, events_csv, person_history
from facegate.attendance.service import Attendance, camera_directions
from facegate.config import InvalidSettings, Settings
from facegate.gallery import SqlStore, open_store
from tests.attendance.conftest import T0, minutes, seen
from tests.storage import in_threads


def test_cooldown_per_person_and_camera(attendance: Attendance, store: SqlStore):
    ann = store.create_person("Ann").id
    bob = store.create_person("Bob").id
    first = attendance.record(seen(ann, T0))
    assert first.event is not None
    again = attendance.record(seen(ann, T0 + minutes(4.9)))
    assert again.event is None and again.reason == "cooldown"
    assert again.suppressed_by == first.event.id
    # another camera, another person: each has its own cooldown
    assert attendance.record(seen(ann, T0 + minutes(1), camera="exit")).event is not None
    assert attendance.record(seen(bob, T0 + minutes(1))).event is not None
    # the cooldown runs from the last *logged* event, not from the suppressed one
    assert attendance.record(seen(ann, T0 + minutes(5))).event is not None
    # a sighting committed late (another worker, a recorder catching up) is still a repeat
    assert attendance.record(seen(ann, T0 - minutes(3))).reason == "cooldown"
    page = attendance.store.events(person_id=ann)
    assert page.total == 3
    assert [e.camera for e in page.items] == ["door", "exit", "door"]  # newest first


def test_cooldown_holds_across_processes(make_settings: Any, store: SqlStore):
    """Two workers (separate connections) logging the same sighting at once: one event."""
    ann = store.create_person("Ann").id
    others = [open_store(make_settings()) for _ in range(3)]
    workers = [Attendance(make_settings(), s.db) for s in [store, *others]]
    barrier = threading.Barrier(len(workers))
    outcomes: list[Any] = []

    def log_it(att: Attendance, offset_s: int) -> None:
        barrier.wait()
        for i in range(5):
            outcomes.append(att.record(seen(ann, T0 + minutes(i / 60 + offset_s / 600))))

    in_threads(log_it, [(w, i) for i, w in enumerate(workers)])
    for s in others:
        s.close()
    assert len(outcomes) == 20
    assert sum(o.event is not None for o in outcomes) == 1
    assert workers[0].store.events().total == 1


def test_day_boundary_in_shanghai(attendance: Attendance, store: SqlStore):
    """The working day starts at 04:00 Shanghai time (20:00 UTC the day before)."""
    ann = store.create_person("Ann").id
    night = datetime(2026, 3, 1, 19, 59, tzinfo=UTC)  # 03:59 on the 2nd, local: still the 1st
    morning = datetime(2026, 3, 1, 20, 1, tzinfo=UTC)  # 04:01 on the 2nd, local
    late_arrival = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 local
    for at in (night, morning, late_arrival):
        assert attendance.record(seen(ann, at, camera=f"door-{at.hour}")).event is not None
    first = daily_report(attendance.store, date(2026, 3, 1))
    second = daily_report(attendance.store, date(2026, 3, 2))
    assert first[0].record.events == 1 and first[0].record.first_in == night
    assert second[0].record.events == 2
    assert second[0].record.first_in == morning
    assert second[0].record.first_in.astimezone(attendance.policy.timezone).time() == time(4, 1)
    assert not second[0].record.late  # 04:01 is before 09:00
    assert second[0].record.last_out == late_arrival  # "both" cameras: the last one counts
    assert second[0].record.left_early  # 09:30 is before 18:00
    history = person_history(attendance.store, ann, date(2026, 3, 3), 3)
    assert [r.day for r in history] == [date(2026, 3, 3), date(2026, 3, 2), date(2026, 3, 1)]
    assert [r.events for r in history] == [0, 2, 1]


def test_directions_and_missing_people(make_settings: Any, store: SqlStore):
    att = Attendance(make_settings(attendance_cameras={"front": "in", "back": "out"}), store.db)
    ann = store.create_person("Ann").id
    store.create_person("Zed")  # never seen
    day = date(2026, 3, 2)  # UTC site: the day starts 04:00 UTC
    arrive = datetime(2026, 3, 2, 8, 50, tzinfo=UTC)
    leave = datetime(2026, 3, 2, 18, 10, tzinfo=UTC)
    att.record(seen(ann, arrive, camera="front"))
    att.record(seen(ann, leave, camera="back"))
    rows = daily_report(att.store, day)
    assert [(r.name, r.present) for r in rows] == [("Ann", True), ("Zed", False)]
    ann_row = rows[0]
    assert ann_row.record.first_in == arrive and ann_row.record.last_out == leave
    assert not ann_row.record.late and not ann_row.record.left_early
    assert not ann_row.inside  # last seen on an "out" camera
    assert [e.direction for e in att.store.events().items] == ["out", "in"]


def test_deleting_a_person_erases_their_attendance(make_settings: Any, store: SqlStore):
    att = Attendance(make_settings(attendance_webhook_urls=["http://127.0.0.1:9/hook"]), store.db)
    ann = store.create_person("Ann").id
    bob = store.create_person("Bob").id
    for i in range(3):
        att.record(seen(ann, T0 + minutes(10 * i), snapshot=b"\xff\xd8jpeg"))
    att.record(seen(bob, T0))
    assert att.outbox.counts()["pending"] == 4  # a webhook per event, not yet sent
    store.delete_person(ann)
    assert att.store.events(person_id=ann).total == 0
    assert att.store.events().total == 1  # Bob's stays
    assert att.outbox.counts()["pending"] == 1
    # a late event for the deleted person (a recorder behind the deletion) is not logged
    assert att.record(seen(ann, T0 + minutes(60))).reason == "unknown_person"


def test_unknown_faces_are_off_by_default_and_expire(make_settings: Any, store: SqlStore):
    off = Attendance(make_settings(), store.db)
    assert off.record(seen(None, T0, kind="unknown")).reason == "unknown_off"
    on = Attendance(
        make_settings(attendance_log_unknown=True, attendance_unknown_retention_days=7), store.db
    )
    old = on.record(seen(None, T0, kind="unknown")).event
    new = on.record(seen(None, T0 + minutes(60 * 24 * 6), kind="unknown")).event
    assert old is not None and new is not None and old.person_id is None
    on.purge(now=T0 + minutes(60 * 24 * 7.5))
    assert [e.id for e in on.store.events().items] == [new.id]


def test_snapshots_expire_but_events_stay(make_settings: Any, store: SqlStore):
    att = Attendance(make_settings(attendance_snapshot_retention_days=30), store.db)
    ann = store.create_person("Ann").id
    old = att.record(seen(ann, T0, snapshot=b"\xff\xd8old")).event
    new = att.record(seen(ann, T0 + minutes(60 * 24 * 20), snapshot=b"\xff\xd8new")).event
    assert old is not None and new is not None and old.has_snapshot
    assert att.purge(now=T0 + minutes(60 * 24 * 31)) == (1, 0)
    assert att.store.snapshot(old.id) is None
    assert att.store.snapshot(new.id) == b"\xff\xd8new"
    assert att.store.events().total == 2
    no_snaps = Attendance(make_settings(attendance_snapshots=False), store.db)
    kept = no_snaps.record(seen(ann, T0, camera="side", snapshot=b"\xff\xd8x")).event
    assert kept is not None and not kept.has_snapshot


def test_csv_exports_parse(attendance: Attendance, store: SqlStore):
    ann = store.create_person("=cmd|' /C calc'!A0", external_id="E-1").id
    store.create_person("Bob, Jr.")
    attendance.record(seen(ann, T0 + minutes(20)))  # 09:20 Shanghai: late
    day = date(2026, 3, 2)
    rows = daily_report(attendance.store, day)
    daily = list(csv.DictReader(io.StringIO(daily_csv(day, rows, attendance.policy))))
    assert [r["name"] for r in daily] == ["'=cmd|' /C calc'!A0", "Bob, Jr."]  # no formula
    assert daily[0]["status"] == "present" and daily[0]["late"] == "true"
    assert daily[0]["first_in"] == "2026-03-02T09:20:00+08:00"
    assert daily[1]["status"] == "missing" and daily[1]["first_in"] == ""
    events = list(
        csv.DictReader(io.StringIO(events_csv(attendance.store.events().items, attendance.policy)))
    )
    assert len(events) == 1
    assert events[0]["at_utc"] == "2026-03-02T01:20:00+00:00"
    assert events[0]["working_day"] == "2026-03-02" and events[0]["external_id"] == "E-1"


def test_events_csv_bytes_have_the_bom_and_whole_seconds(attendance: Attendance, store: SqlStore):
    """The events download follows the daily export's rule (reports.csv_text(excel=True),
    ``_local_s``): a UTF-8 BOM, then times in UTC and site time to the second."""
    ann = store.create_person("李伟", external_id="E-7").id
    at = T0 + minutes(20) + timedelta(seconds=5, microseconds=123456)
    attendance.record(seen(ann, at))
    data = events_csv(attendance.store.events().items, attendance.policy).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbfid,at_utc,at_local,working_day,")
    row = data.split(b"\r\n")[1].decode("utf-8")
    assert ",2026-03-02T01:20:05+00:00,2026-03-02T09:20:05+08:00,2026-03-02," in row
    assert "123456" not in row and ".12" not in row and "李伟" in row
    # later pages of a streamed download carry neither header nor BOM
    rest = events_csv(attendance.store.events().items, attendance.policy, with_header=False)
    first_id = str(attendance.store.events().items[0].id)
    assert not rest.startswith("\ufeff") and rest.startswith(first_id)


def test_time_filters_and_paging(attendance: Attendance, store: SqlStore):
    ann = store.create_person("Ann").id
    for i in range(7):
        attendance.record(seen(ann, T0 + minutes(10 * i)))
    s = attendance.store
    assert s.events(since=T0 + minutes(10), until=T0 + minutes(40)).total == 3
    pages = [s.events(limit=3, offset=o).items for o in (0, 3, 6)]
    ids = [e.id for page in pages for e in page]
    assert len(ids) == 7 == len(set(ids))
    assert [e.at for e in pages[0]] == sorted((e.at for e in pages[0]), reverse=True)
    assert s.events(camera="nowhere").total == 0
    assert all(e.at.tzinfo is UTC or e.at.utcoffset() == timedelta(0) for e in pages[1])


def test_merging_people_keeps_the_attendance(attendance: Attendance, store: SqlStore):
    ann = store.create_person("Ann").id
    dup = store.create_person("Ann (again)").id
    attendance.record(seen(ann, T0))
    attendance.record(seen(dup, T0 + minutes(60)))
    store.merge_people(dup, ann)
    assert [e.person_id for e in attendance.store.events().items] == [ann, ann]


def test_camera_directions_come_from_the_cameras_and_the_attendance_settings():
    settings = Settings(
        cameras=[
            {"name": "gate", "source": "0", "direction": "out"},
            {"name": "hall", "source": "1"},
        ],
        attendance_cameras={"kiosk": "in"},
    )
    assert camera_directions(settings) == {"gate": "out", "hall": "both", "kiosk": "in"}


def test_a_cameras_direction_has_one_place():
    """A server camera's direction is set on the camera; naming it in attendance.cameras as
    well is refused (the two used to disagree silently, the later one winning)."""
    with pytest.raises(InvalidSettings, match="hall"):
        Settings(
            cameras=[{"name": "hall", "source": "1", "direction": "in"}],
            attendance_cameras={"hall": "both"},
        )


def test_a_wrong_name_mark_takes_the_event_out_of_attendance(
    attendance: Attendance, store: SqlStore
):
    """A reviewer marks an arrival "wrong name" (facegate.review): the person is no longer
    present in the daily record, the month summary or the export; the review list and the
    event log still show the event, with its mark."""
    from facegate.attendance.summary import month_summary
    from facegate.review import ReviewStore

    ann, bob = (store.create_person(n).id for n in ("Ann", "Bob"))
    wrong = attendance.record(seen(ann, T0 + minutes(5))).event  # really Bob, named Ann
    right = attendance.record(seen(bob, T0 + minutes(6), camera="side")).event
    assert wrong is not None and right is not None
    day, now = date(2026, 3, 2), T0 + timedelta(days=3)

    def present() -> dict[str, bool]:
        return {r.name: r.present for r in daily_report(attendance.store, day, now=now)}

    assert present() == {"Ann": True, "Bob": True}
    review = ReviewStore(store.db, attendance.store)
    review.mark(wrong.id, "wrong_name")
    assert present() == {"Ann": False, "Bob": True}
    summary = {r.name: r for r in month_summary(attendance.store, "2026-03", hr=None, now=now)}
    assert summary["Ann"].present == 0 and summary["Bob"].present == 1
    exported = daily_csv(day, daily_report(attendance.store, day, now=now), attendance.policy)
    assert "Ann,,missing" in exported and "Bob,,present" in exported
    # still in the log and in review, marked
    assert wrong.id in {e.id for e in attendance.store.events().items}
    marked = {row.event.id: row.mark for row in review.recent()}
    wrong_mark = marked[wrong.id]
    assert wrong_mark is not None and wrong_mark.verdict == "wrong_name"
    # an "assigned" mark (an unknown face given a name) does not remove anything
    review.mark(right.id, "assigned", person_id=bob)
    assert present() == {"Ann": False, "Bob": True}
