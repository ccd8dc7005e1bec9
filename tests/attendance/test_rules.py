"""Attendance rules on hand-made timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from facegate.attendance.rules import (
    AttendancePolicy,
    Sighting,
    daily_record,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
policy = AttendancePolicy(timezone=SHANGHAI, day_start=time(4, 0))


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_working_day_follows_the_local_day_start():
    # 02:30 local on the 2nd still belongs to the 1st (day starts at 04:00)
    assert policy.working_day(local(2026, 3, 2, 2, 30)) == date(2026, 3, 1)
    assert policy.working_day(local(2026, 3, 2, 4, 0)) == date(2026, 3, 2)
    # 20:30 UTC on the 1st is 04:30 local on the 2nd
    assert policy.working_day(datetime(2026, 3, 1, 20, 30, tzinfo=UTC)) == date(2026, 3, 2)


def test_day_window_is_the_local_day_in_utc():
    start, end = policy.day_window(date(2026, 3, 2))
    assert start == datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_day_window_across_daylight_saving():
    berlin = AttendancePolicy(timezone=ZoneInfo("Europe/Berlin"), day_start=time(4, 0))
    start, end = berlin.day_window(date(2026, 3, 28))  # clocks go forward on the 29th, 02:00
    assert end - start == timedelta(hours=23)


def test_daily_record_first_in_last_out_and_flags():
    day = date(2026, 3, 2)
    sightings = [
        Sighting(local(2026, 3, 2, 9, 12), "in"),
        Sighting(local(2026, 3, 2, 12, 30), "both"),
        Sighting(local(2026, 3, 2, 17, 40), "out"),
        Sighting(local(2026, 3, 2, 8, 59), "out"),  # an "out" before arriving is not first-in
    ]
    record = daily_record(day, sightings, policy)
    assert record.first_in == local(2026, 3, 2, 9, 12)
    assert record.last_out == local(2026, 3, 2, 17, 40)
    assert record.events == 4
    assert record.late  # 09:12 is past 09:00 + 5 min grace
    assert record.left_early  # 17:40 is before 18:00 - 5 min


def test_single_sighting_on_a_both_camera_is_an_arrival_only():
    record = daily_record(date(2026, 3, 2), [Sighting(local(2026, 3, 2, 9, 3), "both")], policy)
    assert record.first_in == local(2026, 3, 2, 9, 3)
    assert record.last_out is None
    assert not record.late and not record.left_early


def test_nobody_seen():
    record = daily_record(date(2026, 3, 2), [], policy)
    assert record.first_in is None and record.last_out is None and record.events == 0
