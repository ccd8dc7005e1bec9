"""The rules that turn recognitions into attendance, as pure functions.

Kept free of storage and transport so each rule can be tested by itself:

- **Working day.** A day starts at ``day_start`` in the site's time zone (default 04:00), not
  at midnight, so a night shift that leaves at 01:30 still belongs to the day it started.
- **Cooldown.** One walk past a door is one event: a person seen again on the same camera
  within ``cooldown`` is not logged again.
- **Directions.** A camera is ``in``, ``out`` or ``both``. First-in is the earliest event on an
  ``in`` or ``both`` camera; last-out the latest on an ``out`` or ``both`` camera.
- **Late / early.** Against configurable working hours with a grace period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

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
    grace: timedelta = timedelta(minutes=_DEFAULTS.grace_minutes)

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


def in_cooldown(last: datetime | None, now: datetime, cooldown: timedelta) -> bool:
    """Whether an event at ``now`` repeats one logged at ``last`` on the same camera."""
    return last is not None and timedelta(0) <= now - last < cooldown


def cooldown_window(now: datetime, cooldown: timedelta) -> tuple[datetime, datetime]:
    """The open interval around ``now`` in which a logged event of the same person on the same
    camera makes ``now`` a repeat. The durable log checks both sides, not only the last event:
    with several worker processes (or a recorder catching up) events can be committed out of
    time order, and one walk past a door must still be one event whatever order it arrives in.
    A clock that jumps back by more than the cooldown still logs (as ``in_cooldown`` does)."""
    return now - cooldown, now + cooldown


@dataclass(frozen=True)
class Sighting:
    """A logged event as the daily rules need it."""

    at: datetime
    direction: Direction


@dataclass(frozen=True)
class DailyRecord:
    """One person's day: first in, last out, and the flags against working hours."""

    day: date
    first_in: datetime | None
    last_out: datetime | None
    events: int
    late: bool
    left_early: bool


def daily_record(day: date, sightings: Iterable[Sighting], policy: AttendancePolicy) -> DailyRecord:
    """Fold a person's events of one working day into their daily record.

    ``last_out`` only counts if it comes after ``first_in`` (a single sighting on a ``both``
    camera is an arrival, not a departure).
    """
    events = sorted(sightings, key=lambda s: s.at)
    ins = [s.at for s in events if s.direction in ("in", "both")]
    outs = [s.at for s in events if s.direction in ("out", "both")]
    first_in = ins[0] if ins else None
    last_out = outs[-1] if outs else None
    if first_in is not None and last_out is not None and last_out <= first_in:
        last_out = None
    start = datetime.combine(day, policy.work_start, tzinfo=policy.timezone)
    end = datetime.combine(day, policy.work_end, tzinfo=policy.timezone)
    late = first_in is not None and first_in > start + policy.grace
    left_early = last_out is not None and last_out < end - policy.grace
    return DailyRecord(day, first_in, last_out, len(events), late, left_early)
