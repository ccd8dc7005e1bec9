"""The monthly summary per person: days present, late, left early, absent, hours.

Built from the same daily records as the board (``reports.records_for``), so a month adds up
the days HR sees one by one. A day counts as **absent** when it was a working day in the
person's plan (shift, weekends, holidays, make-up days), it is over, and they were not present
(no event, no correction). Days still running are not counted absent. **Hours** are first-in to
last-out per day (corrections included), summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from facegate.attendance.hr_store import HrStore
from facegate.attendance.reports import records_for
from facegate.attendance.rules import DailyRecord
from facegate.attendance.store import AttendanceStore
from facegate.errors import InvalidInput

SUMMARY_HEADER = (
    "month",
    "person_id",
    "name",
    "external_id",
    "working_days",
    "present",
    "late",
    "left_early",
    "absent",
    "hours",
    "corrected_days",
)


def parse_month(text: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last date; InvalidInput otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise InvalidInput(f"month must be YYYY-MM, not {text!r}") from None
    if not 2000 <= year <= 2100:
        raise InvalidInput("month must be between 2000-01 and 2100-12")
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class MonthRow:
    person_id: int
    name: str
    external_id: str | None
    working_days: int
    present: int
    late: int
    left_early: int
    absent: int
    hours: float
    corrected_days: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": {"id": self.person_id, "name": self.name, "external_id": self.external_id},
            "working_days": self.working_days,
            "present": self.present,
            "late": self.late,
            "left_early": self.left_early,
            "absent": self.absent,
            "hours": self.hours,
            "corrected_days": self.corrected_days,
        }

    def cells(self, month: str) -> tuple[object, ...]:
        return (
            month,
            self.person_id,
            self.name,
            self.external_id,
            self.working_days,
            self.present,
            self.late,
            self.left_early,
            self.absent,
            self.hours,
            self.corrected_days,
        )


def _row(
    person: tuple[int, str, str | None], records: list[DailyRecord], over: list[bool]
) -> MonthRow:
    working = [r for r in records if r.plan is not None and r.plan.working]
    worked = sum((r.worked for r in records), timedelta(0))
    return MonthRow(
        person_id=person[0],
        name=person[1],
        external_id=person[2],
        working_days=len(working),
        present=sum(r.present for r in records),
        late=sum(r.late for r in records),
        left_early=sum(r.left_early for r in records),
        absent=sum(
            1
            for r, done in zip(records, over, strict=True)
            if done and not r.present and r.plan is not None and r.plan.working
        ),
        hours=round(worked.total_seconds() / 3600, 2),
        corrected_days=sum(r.corrected for r in records),
    )


def month_summary(
    store: AttendanceStore,
    month: str,
    *,
    hr: HrStore | None,
    now: datetime,
    person_id: int | None = None,
) -> list[MonthRow]:
    """Every enrolled person's (or one person's) month, by name."""
    first, last = parse_month(month)
    found = records_for(store, first, last, hr=hr, now=now, person_id=person_id)
    rows = []
    for person in found.people:
        records = found.by_person[person[0]]
        over = [r.day_end is None or now >= r.day_end for r in records]
        rows.append(_row(person, records, over))
    return rows
