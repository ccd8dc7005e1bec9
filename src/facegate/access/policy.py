"""The access decision: one pure function from what is known about a face at a door to
``granted`` or ``denied`` and the reason.

Pure (no database, no clock, no I/O) so every rule is tested as a table and the same decision
is made in every worker. The store (``facegate.access.store``) reads the inputs inside the
event's write transaction and calls ``decide``.

Checks, in order (the first that fails is the reason):

1. ``not_confirmed``: the face was at the door but its identity was never confirmed.
2. ``unknown_person``: confirmed as nobody enrolled (raises the ``stranger`` alarm).
3. ``blocked``: the person is on the block list (raises the ``blocked`` alarm).
4. ``liveness_failed``: the liveness check says ``spoof`` (alarm ``spoof``), the face left
   before the check could answer (``left``: whatever the door's ``undecided`` policy, since
   nobody is there to let in), or it could not decide and the door's ``undecided`` policy is
   ``deny``.
5. ``pass_expired``: outside the person's ``valid_from`` / ``valid_until`` (a visitor pass;
   also when not yet valid).
6. ``not_in_group``: no rule of this door names a group the person is in.
7. ``outside_hours``: such rules exist but none covers this local weekday, time and date, or
   the date is a closed holiday.
8. ``anti_passback``: the door has anti-passback, the camera looks inwards and the person has
   entered without exiting since.

Otherwise ``granted`` with reason ``rule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

Decision = Literal["granted", "denied"]
Direction = Literal["in", "out"]
LivenessState = Literal["live", "spoof", "undecided", "pending", "left"]
Undecided = Literal["deny", "allow"]

# Why a door decided as it did, and the alarm it raised (the checks above, in order).
Reason = Literal[
    "rule",
    "not_confirmed",
    "unknown_person",
    "blocked",
    "liveness_failed",
    "pass_expired",
    "not_in_group",
    "outside_hours",
    "anti_passback",
]
Alarm = Literal["stranger", "blocked", "spoof"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = 0b1111111
DAY_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class Rule:
    """Members of ``group_id`` may pass on ``weekdays`` (bit 0 Monday) from ``from_minute``
    to ``to_minute`` local time (``to < from`` spans midnight), between ``date_from`` and
    ``date_to`` (inclusive, either optional)."""

    group_id: int
    weekdays: int = ALL_DAYS
    from_minute: int = 0
    to_minute: int = DAY_MINUTES
    date_from: date | None = None
    date_to: date | None = None

    def covers(self, local: datetime, *, any_weekday: bool = False) -> bool:
        day = local.date()
        if self.date_from is not None and day < self.date_from:
            return False
        if self.date_to is not None and day > self.date_to:
            return False
        if not any_weekday and not self.weekdays & (1 << local.weekday()):
            return False
        minute = local.hour * 60 + local.minute
        if self.from_minute <= self.to_minute:
            return self.from_minute <= minute < self.to_minute
        return minute >= self.from_minute or minute < self.to_minute


@dataclass(frozen=True, slots=True)
class Holiday:
    """A date exception in site time: ``closed`` (no rule grants) or open (weekday limits
    are ignored: a make-up working day; hours still apply). ``door_id`` None: every door."""

    day: date
    closed: bool = True
    door_id: int | None = None


@dataclass(frozen=True, slots=True)
class Pass:
    """A person's own access settings (a person without a row has the default one)."""

    valid_from: datetime | None = None
    valid_until: datetime | None = None
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything the decision depends on. ``now`` is aware; ``timezone`` the site's."""

    now: datetime
    timezone: tzinfo
    confirmed: bool
    person_id: int | None
    liveness: LivenessState = "live"
    undecided: Undecided = "deny"
    direction: Direction = "in"
    person_pass: Pass = Pass()
    groups: frozenset[int] = frozenset()
    rules: Sequence[Rule] = ()
    holidays: Sequence[Holiday] = ()  # of this door or all doors, any date (filtered here)
    anti_passback: bool = False
    inside: bool = False  # anti-passback state: entered and not exited since


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: Reason
    alarm: Alarm | None = None

    @property
    def granted(self) -> bool:
        return self.decision == "granted"


def _denied(reason: Reason, alarm: Alarm | None = None) -> Verdict:
    return Verdict("denied", reason, alarm)


def decide(s: Situation) -> Verdict:
    """The decision for one face at one door (see the module docstring for the order)."""
    if not s.confirmed:
        return _denied("not_confirmed")
    if s.person_id is None:
        return _denied("unknown_person", "stranger")
    if s.person_pass.blocked:
        return _denied("blocked", "blocked")
    if s.liveness == "spoof":
        return _denied("liveness_failed", "spoof")
    if s.liveness == "left" or (s.liveness in ("undecided", "pending") and s.undecided == "deny"):
        return _denied("liveness_failed")
    p = s.person_pass
    if (p.valid_from is not None and s.now < p.valid_from) or (
        p.valid_until is not None and s.now >= p.valid_until
    ):
        return _denied("pass_expired")
    mine = [r for r in s.rules if r.group_id in s.groups]
    if not mine:
        return _denied("not_in_group")
    local = s.now.astimezone(s.timezone)
    today = [h for h in s.holidays if h.day == local.date()]
    if any(h.closed for h in today):
        return _denied("outside_hours")
    open_day = bool(today)
    if not any(r.covers(local, any_weekday=open_day) for r in mine):
        return _denied("outside_hours")
    if s.anti_passback and s.direction == "in" and s.inside:
        return _denied("anti_passback")
    return Verdict("granted", "rule")


# -- parsing the CLI's and API's notations ------------------------------------------------------


def parse_days(text: str) -> int:
    """``all``, ``weekdays``, ``weekend`` or a comma list of ``mon``..``sun`` (ranges like
    ``mon-fri`` too) -> a weekday bit mask. Raises ValueError with a clear message."""
    value = text.strip().lower()
    if value in ("all", "*", ""):
        return ALL_DAYS
    if value == "weekdays":
        return 0b0011111
    if value == "weekend":
        return 0b1100000
    mask = 0
    for part in value.split(","):
        part = part.strip()
        ends = part.split("-")
        if len(ends) > 2 or any(e not in WEEKDAYS for e in ends):
            raise ValueError(f"unknown day {part!r}: use all or mon,tue,... (ranges: mon-fri)")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ValueError(f"day range {part!r} runs backwards")
        for index in range(first, last + 1):
            mask |= 1 << index
    return mask


def format_days(mask: int) -> str:
    if mask == ALL_DAYS:
        return "all"
    return ",".join(day for i, day in enumerate(WEEKDAYS) if mask & (1 << i))


def parse_minute(text: str, *, end: bool = False) -> int:
    """``HH:MM`` -> minutes after midnight; ``24:00`` only as an end."""
    try:
        hours, minutes = text.strip().split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise ValueError(f"time {text!r} must be HH:MM") from None
    if (h, m) == (24, 0) and end:
        return DAY_MINUTES
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"time {text!r} must be between 00:00 and {'24:00' if end else '23:59'}")
    return h * 60 + m


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
