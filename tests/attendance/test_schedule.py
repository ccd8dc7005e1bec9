"""The HR rules on fixed dates and fixed clocks: leaving judged only when it can be known,
weekends, public holidays, make-up working days, a shift over midnight, corrections."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facegate.attendance.rules import (
    AttendancePolicy,
    Correction,
    DailyRecord,
    Sighting,
    daily_record,
)
from facegate.attendance.schedule import (
    Calendar,
    CalendarDay,
    Shift,
    day_boundary,
    day_bounds,
    plan_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
policy = AttendancePolicy(timezone=SHANGHAI, leave_margin=timedelta(minutes=30))
SITE = Shift(time(9), time(18), frozenset({1, 2, 3, 4, 5}))
MONDAY = date(2026, 11, 2)  # a Monday
SATURDAY = date(2026, 11, 7)


def at(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=SHANGHAI)


def record(sightings: list[Sighting], now: datetime | None, **kw: Any) -> DailyRecord:
    return daily_record(MONDAY, sightings, policy, now=now, **kw)


def test_a_person_still_inside_is_never_left_early_while_the_day_runs():
    came = [Sighting(at(MONDAY, 8, 55), "in")]
    r = record(came, now=at(MONDAY, 15))
    assert not r.left_early and not r.leave_judged
    # out at lunch, back in through an "in" camera: inside again, not judged
    day = [*came, Sighting(at(MONDAY, 12), "out"), Sighting(at(MONDAY, 13), "in")]
    r = record(day, now=at(MONDAY, 17))
    assert r.last_out == at(MONDAY, 12) and not r.left_early and not r.leave_judged


def test_a_single_both_way_camera_is_judged_only_after_the_margin():
    day = [Sighting(at(MONDAY, 9), "both"), Sighting(at(MONDAY, 12), "both")]
    assert not record(day, now=at(MONDAY, 12, 10)).left_early  # maybe just fetching lunch
    assert not record(day, now=at(MONDAY, 12, 29)).left_early
    assert record(day, now=at(MONDAY, 12, 30)).left_early  # last-out + 30 min margin
    # seen again: the later pass is the last-out, and the margin runs from it
    back = [*day, Sighting(at(MONDAY, 12, 45), "both")]
    assert not record(back, now=at(MONDAY, 13)).left_early


def test_leaving_is_judged_once_the_day_is_over():
    day = [
        Sighting(at(MONDAY, 9), "in"),
        Sighting(at(MONDAY, 16), "out"),
        Sighting(at(MONDAY, 16, 30), "in"),
    ]
    assert not record(day, now=at(MONDAY, 23)).left_early  # last seen coming in: inside
    # the working day (04:00 to 04:00) is over: the 16:00 out was the last one seen
    over = record(day, now=at(MONDAY + timedelta(days=1), 4))
    assert over.leave_judged and over.left_early
    assert record(day, now=None).left_early  # a past day's report


def test_leaving_after_the_end_is_never_early():
    day = [Sighting(at(MONDAY, 9), "in"), Sighting(at(MONDAY, 17, 56), "out")]
    assert not record(day, now=at(MONDAY, 19)).left_early  # 17:56 >= 18:00 - 5 min grace


def test_weekend_holiday_and_make_up_day():
    calendar = Calendar.of(
        [
            CalendarDay(MONDAY, "holiday", "National Day (moved)"),
            CalendarDay(SATURDAY, "workday", "make-up day"),
        ]
    )
    holiday = plan_day(MONDAY, SITE, calendar, SHANGHAI)
    assert holiday.kind == "holiday" and not holiday.working and holiday.name
    makeup = plan_day(SATURDAY, SITE, calendar, SHANGHAI)
    assert makeup.kind == "makeup" and makeup.start == at(SATURDAY, 9)
    sunday = plan_day(SATURDAY + timedelta(days=1), SITE, calendar, SHANGHAI)
    assert sunday.kind == "weekend" and not sunday.working
    # late on a holiday is no "late"; late on the make-up Saturday is
    late_in = [Sighting(at(MONDAY, 10), "in")]
    assert not daily_record(MONDAY, late_in, policy, plan=holiday).late
    sat_in = [Sighting(at(SATURDAY, 10), "in")]
    assert daily_record(SATURDAY, sat_in, policy, plan=makeup).late
    # without a plan: the site's working days (Saturday is a rest day)
    assert not daily_record(SATURDAY, sat_in, policy).late


def test_a_shift_over_midnight_is_one_day():
    night = Shift(time(22), time(6), frozenset({1, 2, 3, 4, 5}), "night")
    assert night.overnight and night.length == timedelta(hours=8)
    assert day_boundary(night, time(4)) == time(14)  # 06:00 + half of the 16 h gap
    start, end = day_bounds(MONDAY, night, time(4), SHANGHAI)
    assert (start, end) == (at(MONDAY, 14), at(MONDAY + timedelta(days=1), 14))
    plan = plan_day(MONDAY, night, Calendar(), SHANGHAI)
    assert plan.start == at(MONDAY, 22) and plan.end == at(MONDAY + timedelta(days=1), 6)
    tuesday = MONDAY + timedelta(days=1)
    shift_day = [Sighting(at(MONDAY, 22, 3), "in"), Sighting(at(tuesday, 5, 40), "out")]
    r = daily_record(MONDAY, shift_day, policy, plan=plan, now=at(tuesday, 14))
    assert r.first_in == at(MONDAY, 22, 3) and r.last_out == at(tuesday, 5, 40)
    assert not r.late and r.left_early  # 05:40 is before 06:00 - 5 min
    assert r.worked == timedelta(hours=7, minutes=37)
    # at 05:50 on Tuesday they are still inside: not judged yet
    inside = daily_record(MONDAY, shift_day[:1], policy, plan=plan, now=at(tuesday, 5, 50))
    assert not inside.left_early and not inside.leave_judged
    # an early-morning shift containing 04:00 has its days start the evening before
    early = Shift(time(2), time(10), frozenset({1, 2, 3, 4, 5}))
    assert day_boundary(early, time(4)) == time(18)
    assert day_bounds(MONDAY, early, time(4), SHANGHAI)[0] == at(MONDAY - timedelta(days=1), 18)
    # a day shift keeps the site's boundary
    assert day_bounds(MONDAY, SITE, time(4), SHANGHAI)[0] == at(MONDAY, 4)


def test_corrections_replace_first_in_and_last_out():
    day = [Sighting(at(MONDAY, 9, 30), "in")]
    assert record(day, now=None).late
    fixes = [
        Correction("in", at(MONDAY, 8, 55), "badge reader down", "hr", at(MONDAY, 10), 1),
        Correction("out", at(MONDAY, 17), "left for a client", "hr", at(MONDAY, 18), 2),
        Correction("out", at(MONDAY, 18, 10), "typo in the first fix", "hr", at(MONDAY, 19), 3),
    ]
    r = record(day, now=at(MONDAY, 20), corrections=fixes)
    assert r.first_in == at(MONDAY, 8, 55) and not r.late
    assert r.last_out == at(MONDAY, 18, 10) and not r.left_early  # the latest fix wins
    assert r.corrected and [c.id for c in r.corrections] == [1, 2, 3]  # all kept for audit
    # a correction alone makes the person present (a forgotten badge)
    alone = record([], now=None, corrections=fixes[:1])
    assert alone.present and alone.events == 0
