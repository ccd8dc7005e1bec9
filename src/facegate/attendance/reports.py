"""Reports over the log: the daily record of every enrolled person, arrivals per hour, CSV.

Shared by the API, the pages and ``facegate attendance report`` so that all three agree on
what "present", "late" and "left early" mean (the rules themselves are in ``rules.py``).
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facegate.attendance.hr_store import HrStore, correction_as_dict
from facegate.attendance.rules import (
    AttendancePolicy,
    DailyRecord,
    Sighting,
    daily_record,
    site_shift,
)
from facegate.attendance.schedule import Calendar, DayPlan, Shift, day_bounds, plan_day
from facegate.attendance.store import AttendanceEvent, AttendanceStore

KNOWN_KINDS = ("confirmed", "checkin")


@dataclass(frozen=True)
class DailyRow:
    """One enrolled person's day. ``inside``: present and not last seen leaving."""

    person_id: int
    name: str
    external_id: str | None
    record: DailyRecord
    inside: bool

    @property
    def present(self) -> bool:
        return self.record.present

    @property
    def status(self) -> str:
        """present, missing (a working day without them) or off (their rest day)."""
        if self.present:
            return "present"
        plan = self.record.plan
        return "off" if plan is not None and not plan.working else "missing"

    def as_dict(self, policy: AttendancePolicy) -> dict[str, Any]:
        r = self.record
        plan = r.plan
        return {
            "person": {"id": self.person_id, "name": self.name, "external_id": self.external_id},
            "status": "present" if self.present else "missing",
            "first_in": _local(r.first_in, policy),
            "last_out": _local(r.last_out, policy),
            "events": r.events,
            "late": r.late,
            "left_early": r.left_early,
            "inside": self.inside,
            "day_kind": None if plan is None else plan.kind,
            "shift": None if plan is None else plan.shift.name,
            "leave_judged": r.leave_judged,
            "corrections": [correction_as_dict(c, policy.timezone) for c in r.corrections],
        }


def _local(moment: datetime | None, policy: AttendancePolicy) -> str | None:
    """Site time, as precise as logged (the API)."""
    return None if moment is None else moment.astimezone(policy.timezone).isoformat()


def _local_s(moment: datetime | None, policy: AttendancePolicy) -> str | None:
    """Site time to the second: exports (spreadsheets and people need no microseconds)."""
    return None if moment is None else _local(moment.replace(microsecond=0), policy)


def _utc_s(moment: datetime) -> str:
    """UTC to the second (the exports' rule, as ``_local_s``)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def day_events(store: AttendanceStore, day: date) -> list[AttendanceEvent]:
    """Known people's events of one working day that count (not marked wrong), oldest first."""
    start, end = store.policy.day_window(day)
    return store.events(
        since=start, until=end, kinds=KNOWN_KINDS, limit=0, oldest_first=True, counted=True
    ).items


@dataclass(frozen=True)
class Records:
    """Every wanted person's records for a range of working days (``records_for``)."""

    people: list[tuple[int, str, str | None]]
    days: list[date]
    by_person: dict[int, list[DailyRecord]]  # aligned with ``days``
    inside: dict[int, bool]  # last seen on a camera that is not ``out`` (last day of range)


def records_for(
    store: AttendanceStore,
    first: date,
    last: date,
    *,
    hr: HrStore | None = None,
    now: datetime | None = None,
    person_id: int | None = None,
) -> Records:
    """Records of ``first``..``last`` for every enrolled person (or one), each against their own
    plan (shift or site hours, the calendar) with their corrections. One events query for the
    whole range (a day wider on both sides when someone's shift runs over the day boundary)."""
    policy = store.policy
    shifts: dict[int, Shift] = hr.person_shifts() if hr is not None else {}
    calendar = Calendar.of(hr.calendar(first, last)) if hr is not None else Calendar()
    fixes = hr.corrections(first, last, person_id) if hr is not None else {}
    start, _ = policy.day_window(first)
    _, end = policy.day_window(last)
    start, end = start - timedelta(days=1), end + timedelta(days=1)
    events = store.events(
        person_id=person_id,
        since=start,
        until=end,
        kinds=KNOWN_KINDS,
        limit=0,
        oldest_first=True,
        counted=True,
    ).items
    by_person: dict[int, list[AttendanceEvent]] = defaultdict(list)
    for event in events:
        if event.person_id is not None:
            by_person[event.person_id].append(event)
    people = store.people()
    if person_id is not None:
        people = [p for p in people if p[0] == person_id]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    default = site_shift(policy)
    # Most people share a few shifts: each (shift, day)'s window (in UTC, so comparisons with
    # the events' UTC times are cheap) and plan are computed once.
    windows: dict[tuple[Shift, date], tuple[datetime, datetime, DayPlan]] = {}

    def window(shift: Shift, day: date) -> tuple[datetime, datetime, DayPlan]:
        found = windows.get((shift, day))
        if found is None:
            lo, hi = day_bounds(day, shift, policy.day_start, policy.timezone)
            plan = plan_day(day, shift, calendar, policy.timezone)
            found = windows[(shift, day)] = (lo.astimezone(UTC), hi.astimezone(UTC), plan)
        return found

    out: dict[int, list[DailyRecord]] = {}
    inside: dict[int, bool] = {}
    for pid, _name, _ext in people:
        shift = shifts.get(pid, default)
        mine = by_person.get(pid, [])
        times = [e.at for e in mine]  # oldest first: each day is a slice found by bisection
        records = []
        for day in days:
            lo, hi, plan = window(shift, day)
            todays = mine[bisect_left(times, lo) : bisect_left(times, hi)]
            records.append(
                daily_record(
                    day,
                    [Sighting(e.at, e.direction) for e in todays],
                    policy,
                    plan=plan,
                    corrections=fixes.get((pid, day), ()),
                    now=now,
                    day_end=hi,
                )
            )
            inside[pid] = bool(todays) and todays[-1].direction != "out"
        out[pid] = records
    return Records(people, days, out, inside)


def daily_report(
    store: AttendanceStore,
    day: date,
    *,
    hr: HrStore | None = None,
    now: datetime | None = None,
) -> list[DailyRow]:
    """Every enrolled person (by name) with their record for ``day``. Pass ``now`` for a day
    that may still be running (leaving is then judged as ``rules.daily_record`` says)."""
    found = records_for(store, day, day, hr=hr, now=now)
    return [
        DailyRow(pid, name, ext, found.by_person[pid][0], found.inside[pid])
        for pid, name, ext in found.people
    ]


def arrivals_per_hour(rows: Iterable[DailyRow], policy: AttendancePolicy) -> list[int]:
    """How many people first came in during each local hour (index 0-23)."""
    hours = [0] * 24
    for row in rows:
        if row.record.first_in is not None:
            hours[row.record.first_in.astimezone(policy.timezone).hour] += 1
    return hours


def _cell(value: object) -> object:
    # A name like "=HYPERLINK(...)" must not run as a formula when the CSV opens in a
    # spreadsheet (CSV injection): such text cells get a leading apostrophe.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# Excel reads a CSV without a byte-order mark in the machine's legacy code page (Chinese names
# turn into mojibake); with it, UTF-8. Every attendance CSV download starts with it.
BOM = "\ufeff"


def csv_text(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    with_header: bool = True,
    excel: bool = False,
) -> str:
    """CSV with CRLF lines and spreadsheet-formula cells defused (also used by access);
    ``with_header=False`` for the later pages of a streamed download. ``excel``: the text
    starts with ``BOM`` (with the header, so a streamed download has it once)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if with_header:
        if excel:
            buffer.write(BOM)
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return buffer.getvalue()


DAILY_HEADER = (
    "date",
    "person_id",
    "name",
    "external_id",
    "status",
    "first_in",
    "last_out",
    "events",
    "late",
    "left_early",
)
EVENTS_HEADER = (
    "id",
    "at_utc",
    "at_local",
    "working_day",
    "person_id",
    "name",
    "external_id",
    "camera",
    "direction",
    "kind",
    "similarity",
)


def daily_cells(
    day: date, rows: Iterable[DailyRow], policy: AttendancePolicy
) -> Iterator[tuple[object, ...]]:
    """The rows of ``DAILY_HEADER`` (times in site time, to the second)."""
    for r in rows:
        yield (
            day.isoformat(),
            r.person_id,
            r.name,
            r.external_id,
            "present" if r.present else "missing",
            _local_s(r.record.first_in, policy),
            _local_s(r.record.last_out, policy),
            r.record.events,
            str(r.record.late).lower(),
            str(r.record.left_early).lower(),
        )


def daily_csv(day: date, rows: Iterable[DailyRow], policy: AttendancePolicy) -> str:
    return csv_text(DAILY_HEADER, daily_cells(day, rows, policy))


def events_csv(
    events: Iterable[AttendanceEvent], policy: AttendancePolicy, *, with_header: bool = True
) -> str:
    """The events download: BOM and times to the second, as the daily export (export.py)."""
    return csv_text(
        EVENTS_HEADER,
        (
            (
                e.id,
                _utc_s(e.at),
                _local_s(e.at, policy),
                policy.working_day(e.at).isoformat(),
                e.person_id,
                e.person_name,
                e.external_id,
                e.camera,
                e.direction,
                e.kind,
                f"{e.score:.4f}",
            )
            for e in events
        ),
        with_header=with_header,
        excel=True,
    )


def person_history(
    store: AttendanceStore,
    person_id: int,
    today: date,
    days: int,
    *,
    hr: HrStore | None = None,
    now: datetime | None = None,
) -> list[DailyRecord]:
    """A person's records for the ``days`` working days up to ``today``, newest first."""
    found = records_for(
        store, today - timedelta(days=days - 1), today, hr=hr, now=now, person_id=person_id
    )
    return list(reversed(found.by_person.get(person_id, [])))
