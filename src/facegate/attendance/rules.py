"""The rules that turn recognitions into attendance, as pure functions.

Kept free of storage and transport so each rule can be tested by itself:

- **Working day.** A day starts at ``day_start`` in the site's time zone (default 04:00), not
  at midnight, so a night shift that leaves at 01:30 still belongs to the day it started.
- **Cooldown.** One walk past a door is one event: a person seen again on the same camera
  within ``cooldown`` is not logged again.
- **Directions.** A camera is ``in``, ``out`` or ``both``. First-in is the earliest event on an
  ``in`` or ``both`` camera; last-out the latest on an ``out`` or ``both`` camera.
- **Late / early.** Against the day's plan (``schedule.py``: shift, weekends, holidays, make-up
  days) with grace periods. *Left early* is judged only when the day is over, or when the
  person left (last seen on an ``out`` or ``both`` camera) at least ``leave_margin`` ago: a
  person still inside, or one seen on a single both-way camera at lunch, is never "left early"
  while the day runs.
- **Corrections.** A manual clock-in or clock-out (with a reason) replaces the first-in or
  last-out of that day; the record says it was corrected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from facegate.attendance.schedule import Calendar, DayPlan, Shift, day_bounds, plan_day
from facegate.config.attendance import AttendanceSettings

Direction = Literal["in", "out", "both"]
UTC_ZONE = ZoneInfo("UTC")


_DEFAULTS = AttendanceSettings()  # the defaults are the settings' (facegate.config)
_DEFAULT_ZONE = ZoneInfo(_DEFAULTS.timezone)


@dataclass(frozen=True)
class AttendancePolicy:
    """Site-wide attendance settings."""

    timezone: ZoneInfo = _DEFAULT_ZONE
    day_start: time = _DEFAULTS.day_start
    cooldown: timedelta = timedelta(seconds=_DEFAULTS.cooldown_s)
    work_start: time = _DEFAULTS.work_start
    work_end: time = _DEFAULTS.work_end
    grace: timedelta = timedelta(minutes=_DEFAULTS.grace_minutes)  # late after work_start + grace
    working_days: frozenset[int] = frozenset(_DEFAULTS.working_days)  # ISO weekdays
    early_grace: timedelta = timedelta(minutes=5)  # left early before work_end - early_grace
    leave_margin: timedelta = timedelta(minutes=_DEFAULTS.leave_margin_minutes)

    def working_day(self, moment: datetime) -> date:
        """The working day an (aware) moment belongs to."""
        local = moment.astimezone(self.timezone)
        shifted = local - timedelta(hours=self.day_start.hour, minutes=self.day_start.minute)
        return shifted.date()

    def day_window(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of a working day as aware UTC datetimes (DST-safe: each end is computed
        from the local wall clock, so a 23- or 25-hour day has its true length)."""
        start = datetime.combine(day, self.day_start, tzinfo=self.timezone)
        end = datetime.combine(day + timedelta(days=1), self.day_start, tzinfo=self.timezone)
        return start.astimezone(UTC_ZONE), end.astimezone(UTC_ZONE)


def cooldown_window(now: datetime, cooldown: timedelta) -> tuple[datetime, datetime]:
    """The open interval around ``now`` in which a logged event of the same person on the same
    camera makes ``now`` a repeat. The durable log checks both sides, not only the last event:
    with several worker processes (or a recorder catching up) events can be committed out of
    time order, and one walk past a door must still be one event whatever order it arrives in.
    A clock that jumps back by more than the cooldown still logs."""
    return now - cooldown, now + cooldown


@dataclass(frozen=True)
class Sighting:
    """A logged event as the daily rules need it."""

    at: datetime
    direction: Direction


@dataclass(frozen=True)
class Correction:
    """A manual clock-in (``in``) or clock-out (``out``) at ``at``, with who/when/why."""

    kind: Literal["in", "out"]
    at: datetime
    reason: str = ""
    by: str = ""
    created_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class DailyRecord:
    """One person's day: first in, last out, and the flags against their plan."""

    day: date
    first_in: datetime | None
    last_out: datetime | None
    events: int
    late: bool
    left_early: bool
    plan: DayPlan | None = None
    corrections: tuple[Correction, ...] = ()
    leave_judged: bool = True  # False while the day runs and the person may still be inside
    day_end: datetime | None = None  # when this person's working day is over

    @property
    def present(self) -> bool:
        return self.events > 0 or bool(self.corrections)

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)

    @property
    def worked(self) -> timedelta:
        """First-in to last-out (zero without both)."""
        if self.first_in is None or self.last_out is None:
            return timedelta(0)
        return self.last_out - self.first_in


def site_shift(policy: AttendancePolicy) -> Shift:
    """The site's working hours and days as a shift (for people without one)."""
    return Shift(policy.work_start, policy.work_end, policy.working_days, "site")


def daily_record(
    day: date,
    sightings: Iterable[Sighting],
    policy: AttendancePolicy,
    *,
    plan: DayPlan | None = None,
    corrections: Iterable[Correction] = (),
    now: datetime | None = None,
    day_end: datetime | None = None,
) -> DailyRecord:
    """Fold a person's events of one working day into their daily record.

    ``last_out`` only counts if it comes after ``first_in`` (a single sighting on a ``both``
    camera is an arrival, not a departure). ``plan`` defaults to the site's hours and working
    days (no calendar); on a rest day nobody is late or left early. ``now`` None means the day
    is over (reports of past days); otherwise leaving is judged only once the person's working
    day has ended, or ``leave_margin`` after a last-out that is their latest sighting (never
    while they were last seen coming in). The latest
    correction of each kind replaces first-in / last-out.
    """
    events = sorted(sightings, key=lambda s: s.at)
    fixes = tuple(sorted(corrections, key=lambda c: (c.created_at or c.at, c.id or 0)))
    ins = [s.at for s in events if s.direction in ("in", "both")]
    outs = [s.at for s in events if s.direction in ("out", "both")]
    first_in = ins[0] if ins else None
    last_out = outs[-1] if outs else None
    if first_in is not None and last_out is not None and last_out <= first_in:
        last_out = None
    manual_in = [c.at for c in fixes if c.kind == "in"]
    manual_out = [c.at for c in fixes if c.kind == "out"]
    if manual_in:
        first_in = manual_in[-1]
    if manual_out:
        last_out = manual_out[-1]
    if plan is None:
        plan = plan_day(day, site_shift(policy), Calendar(), policy.timezone)
    if day_end is None:
        day_end = day_bounds(day, plan.shift, policy.day_start, policy.timezone)[1]
    judged = _leave_judged(events, last_out, bool(manual_out), day_end, policy, now)
    late = plan.start is not None and first_in is not None and first_in > plan.start + policy.grace
    left_early = (
        judged
        and plan.end is not None
        and last_out is not None
        and last_out < plan.end - policy.early_grace
    )
    return DailyRecord(
        day, first_in, last_out, len(events), late, left_early, plan, fixes, judged, day_end
    )


def _leave_judged(
    events: list[Sighting],
    last_out: datetime | None,
    manual_out: bool,
    day_end: datetime,
    policy: AttendancePolicy,
    now: datetime | None,
) -> bool:
    """Whether leaving can be judged yet (see ``daily_record``)."""
    if now is None or manual_out:
        return True
    if now >= day_end:
        return True  # the day is over
    if last_out is None or (events and events[-1].direction == "in"):
        return False  # still inside (last seen coming in)
    if events and events[-1].at > last_out:
        return False
    return now >= last_out + policy.leave_margin
