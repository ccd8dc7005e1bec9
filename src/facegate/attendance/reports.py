"""Reports over the log: the daily record of every enrolled person, arrivals per hour, CSV.

Shared by the API, the pages and ``facegate attendance report`` so that all three agree on
what "present", "late" and "left early" mean (the rules themselves are in ``rules.py``).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from facegate.attendance.rules import AttendancePolicy, DailyRecord, Sighting, daily_record
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
        return self.record.events > 0

    def as_dict(self, policy: AttendancePolicy) -> dict[str, Any]:
        r = self.record
        return {
            "person": {"id": self.person_id, "name": self.name, "external_id": self.external_id},
            "status": "present" if self.present else "missing",
            "first_in": _local(r.first_in, policy),
            "last_out": _local(r.last_out, policy),
            "events": r.events,
            "late": r.late,
            "left_early": r.left_early,
            "inside": self.inside,
        }


def _local(moment: datetime | None, policy: AttendancePolicy) -> str | None:
    return None if moment is None else moment.astimezone(policy.timezone).isoformat()


def day_events(store: AttendanceStore, day: date) -> list[AttendanceEvent]:
    """Known people's events of one working day, oldest first."""
    start, end = store.policy.day_window(day)
    return store.events(since=start, until=end, kinds=KNOWN_KINDS, limit=0, oldest_first=True).items


def daily_report(store: AttendanceStore, day: date) -> list[DailyRow]:
    """Every enrolled person (by name) with their record for ``day``."""
    by_person: dict[int, list[AttendanceEvent]] = defaultdict(list)
    for event in day_events(store, day):
        if event.person_id is not None:
            by_person[event.person_id].append(event)
    rows = []
    for person_id, name, external_id in store.people():
        events = by_person.get(person_id, [])
        record = daily_record(day, (Sighting(e.at, e.direction) for e in events), store.policy)
        inside = bool(events) and events[-1].direction != "out"
        rows.append(DailyRow(person_id, name, external_id, record, inside))
    return rows


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


def csv_text(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, with_header: bool = True
) -> str:
    """CSV with CRLF lines and spreadsheet-formula cells defused (also used by access);
    ``with_header=False`` for the later pages of a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if with_header:
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


def daily_csv(day: date, rows: Iterable[DailyRow], policy: AttendancePolicy) -> str:
    return csv_text(
        DAILY_HEADER,
        (
            (
                day.isoformat(),
                r.person_id,
                r.name,
                r.external_id,
                "present" if r.present else "missing",
                _local(r.record.first_in, policy),
                _local(r.record.last_out, policy),
                r.record.events,
                str(r.record.late).lower(),
                str(r.record.left_early).lower(),
            )
            for r in rows
        ),
    )


def events_csv(
    events: Iterable[AttendanceEvent], policy: AttendancePolicy, *, with_header: bool = True
) -> str:
    return csv_text(
        EVENTS_HEADER,
        (
            (
                e.id,
                e.at.isoformat(),
                _local(e.at, policy),
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
    )


def person_history(
    store: AttendanceStore, person_id: int, today: date, days: int
) -> list[DailyRecord]:
    """A person's records for the ``days`` working days up to ``today``, newest first."""
    first = today - timedelta(days=days - 1)
    start, _ = store.policy.day_window(first)
    _, end = store.policy.day_window(today)
    events = store.events(
        person_id=person_id, since=start, until=end, kinds=KNOWN_KINDS, limit=0, oldest_first=True
    ).items
    by_day: dict[date, list[Sighting]] = defaultdict(list)
    for event in events:
        by_day[store.policy.working_day(event.at)].append(Sighting(event.at, event.direction))
    return [
        daily_record(day, by_day.get(day, ()), store.policy)
        for day in (today - timedelta(days=i) for i in range(days))
    ]
