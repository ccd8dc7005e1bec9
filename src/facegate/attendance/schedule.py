"""Who is expected when: shifts, working days, public holidays and make-up working days.

Pure functions over plain values, so every calendar rule is tested by itself on fixed dates
(tests/attendance/test_schedule.py). The stores (``hr_store.py``) only load the rows.

Which hours apply to a person on a working day:

1. the calendar first: a ``holiday`` is a rest day for everybody; a ``workday`` (a make-up
   working day, e.g. a Saturday in China before a long holiday) is a working day for
   everybody, on their usual hours even when their shift's weekdays exclude it;
2. otherwise the person's own shift, else the shift of a group they belong to (the lowest shift
   id when several groups have one), else the site's working hours and working days.

A shift whose end is not after its start runs over midnight (22:00-06:00 ends the next
morning). Such a person's *day* must hold the whole shift, so their day boundary is not the
site's ``day_start`` (04:00 would cut the shift in two) but the middle of their off-duty gap
(06:00 + 8 h = 14:00): ``day_bounds`` gives it. A shift that does not contain the site's
``day_start`` keeps the site boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

CalendarKind = Literal["holiday", "workday"]
DayKind = Literal["workday", "weekend", "holiday", "makeup"]
ALL_DAYS: frozenset[int] = frozenset(range(1, 8))


@dataclass(frozen=True)
class Shift:
    """Working hours on some ISO weekdays (1 = Monday ... 7 = Sunday)."""

    start: time
    end: time
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    name: str = "site"
    id: int | None = None

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> timedelta:
        minutes = _minutes(self.end) - _minutes(self.start)
        return timedelta(minutes=minutes if minutes > 0 else minutes + 24 * 60)

    def contains_clock(self, moment: time) -> bool:
        """Whether the wall-clock time ``moment`` falls inside the shift (end exclusive)."""
        m, s, e = _minutes(moment), _minutes(self.start), _minutes(self.end)
        return s <= m < e if not self.overnight else m >= s or m < e


@dataclass(frozen=True)
class CalendarDay:
    """A date that is not like the others: a public ``holiday`` or a make-up ``workday``."""

    day: date
    kind: CalendarKind
    name: str = ""


@dataclass(frozen=True)
class DayPlan:
    """What a person is expected to do on one working day: ``start``/``end`` (aware) when it is
    a working day for them, None on a rest day; ``kind`` says why (for the pages)."""

    day: date
    kind: DayKind
    shift: Shift
    start: datetime | None = None
    end: datetime | None = None
    name: str = ""  # the holiday's or make-up day's name

    @property
    def working(self) -> bool:
        return self.start is not None


@dataclass(frozen=True)
class Calendar:
    """The site's calendar: dated exceptions by date (fast lookup for a month of days)."""

    days: dict[date, CalendarDay] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: list[CalendarDay] | tuple[CalendarDay, ...]) -> Calendar:
        return cls({e.day: e for e in entries})


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def plan_day(day: date, shift: Shift, calendar: Calendar, zone: ZoneInfo) -> DayPlan:
    """The plan of ``day`` for someone on ``shift`` (see the module docstring for the order)."""
    entry = calendar.days.get(day)
    if entry is not None and entry.kind == "holiday":
        return DayPlan(day, "holiday", shift, name=entry.name)
    if entry is not None and entry.kind == "workday":
        kind: DayKind = "makeup"
    elif day.isoweekday() in shift.days:
        kind = "workday"
    else:
        return DayPlan(day, "weekend", shift)
    start = datetime.combine(day, shift.start, tzinfo=zone)
    end_day = day + timedelta(days=1) if shift.overnight else day
    end = datetime.combine(end_day, shift.end, tzinfo=zone)
    return DayPlan(day, kind, shift, start, end, entry.name if entry else "")


def day_boundary(shift: Shift, site_day_start: time) -> time:
    """The local time this shift's days start: the site's ``day_start`` unless the shift
    contains it, then the middle of the off-duty gap after the shift."""
    if not shift.contains_clock(site_day_start):
        return site_day_start
    gap = timedelta(days=1) - shift.length
    middle = datetime.combine(date(2000, 1, 1), shift.end) + gap / 2
    return middle.time().replace(second=0, microsecond=0)


def day_bounds(
    day: date, shift: Shift, site_day_start: time, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """[start, end) of a person's working day ``day`` as aware datetimes (DST-safe): the day
    whose shift *starts* on that date. When the boundary falls after the shift's start (02:00-
    10:00 has its boundary at 18:00) the window opens at the previous date's boundary."""
    boundary = day_boundary(shift, site_day_start)
    first = day - timedelta(days=1) if boundary > shift.start else day
    if boundary == site_day_start:
        first = day
    start = datetime.combine(first, boundary, tzinfo=zone)
    end = datetime.combine(first + timedelta(days=1), boundary, tzinfo=zone)
    return start, end
