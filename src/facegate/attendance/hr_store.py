"""What HR maintains next to the log: the calendar, shifts and manual corrections.

SQLite and PostgreSQL through the ``Database`` protocol (migration 11). Days are stored as ISO
dates (site time), correction times as UTC like the events. A correction is never edited or
deleted by a later one: the latest of each kind wins in the day record and all of them stay
visible with who made them, when and why (the audit). Everything cascades with the person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from facegate.attendance.rules import Correction
from facegate.attendance.schedule import CalendarDay, CalendarKind, Shift
from facegate.delivery import stored_time
from facegate.errors import FacegateError, InvalidInput
from facegate.gallery.db import Database, Tx, as_day, utcnow

MAX_REASON = 500


class HrNotFound(FacegateError):
    """A shift, group, person or calendar day that does not exist."""

    code = "not_found"


@dataclass(frozen=True)
class ShiftRow:
    """A shift with the people and groups it is assigned to."""

    shift: Shift
    people: tuple[int, ...]
    groups: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        s = self.shift
        return {
            "id": s.id,
            "name": s.name,
            "start": s.start.strftime("%H:%M"),
            "end": s.end.strftime("%H:%M"),
            "days": sorted(s.days),
            "overnight": s.overnight,
            "people": list(self.people),
            "groups": list(self.groups),
        }


def _text_ok(text: str) -> bool:
    """Printable text (line breaks allowed): PostgreSQL refuses NUL bytes in text."""
    return all(c.isprintable() or c in "\n\t" for c in text)


def _days_text(days: frozenset[int]) -> str:
    return ",".join(str(d) for d in sorted(days))


def _parse_days(text: str) -> frozenset[int]:
    return frozenset(int(d) for d in text.split(",") if d)


def correction_as_dict(c: Correction, zone: Any) -> dict[str, Any]:
    """A correction for the API and pages (times in the site's zone, to the second)."""
    return {
        "id": c.id,
        "kind": c.kind,
        "at": c.at.astimezone(zone).replace(microsecond=0).isoformat(),
        "reason": c.reason,
        "by": c.by,
        "created_at": None
        if c.created_at is None
        else c.created_at.astimezone(zone).replace(microsecond=0).isoformat(),
    }


class HrStore:
    """Calendar, shifts and corrections over the gallery's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _t(self, value: datetime) -> Any:
        return stored_time(self.db, value)

    # -- calendar -----------------------------------------------------------------------------

    def calendar(self, first: date, last: date) -> list[CalendarDay]:
        """Holidays and make-up days from ``first`` to ``last`` inclusive."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT day, kind, name FROM attendance_calendar WHERE day >= ? AND day <= ? "
                "ORDER BY day",
                (first.isoformat(), last.isoformat()),
            )
        return [CalendarDay(as_day(r[0]), r[1], r[2]) for r in rows]

    def set_day(self, day: date, kind: CalendarKind, name: str = "") -> CalendarDay:
        """Mark ``day`` a holiday or a make-up working day (replaces what it was)."""
        if kind not in ("holiday", "workday"):
            raise InvalidInput("kind must be holiday or workday")
        if len(name) > 200 or not _text_ok(name):
            raise InvalidInput("a calendar day's name is printable text of at most 200 characters")
        with self.db.write() as tx:
            tx.execute("DELETE FROM attendance_calendar WHERE day = ?", (day.isoformat(),))
            tx.execute(
                "INSERT INTO attendance_calendar (day, kind, name) VALUES (?, ?, ?)",
                (day.isoformat(), kind, name),
            )
        return CalendarDay(day, kind, name)

    def remove_day(self, day: date) -> None:
        with self.db.write() as tx:
            if not tx.execute(
                "DELETE FROM attendance_calendar WHERE day = ? RETURNING day", (day.isoformat(),)
            ):
                raise HrNotFound(f"{day.isoformat()} is not in the calendar")

    # -- shifts -------------------------------------------------------------------------------

    def shifts(self) -> list[ShiftRow]:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT id, name, start_time, end_time, days FROM attendance_shifts ORDER BY id"
            )
            links = tx.execute(
                "SELECT a.shift_id, a.person_id, g.name FROM attendance_shift_assignments a "
                "LEFT JOIN access_groups g ON g.id = a.group_id ORDER BY a.id"
            )
        people: dict[int, list[int]] = defaultdict(list)
        groups: dict[int, list[str]] = defaultdict(list)
        for shift_id, person_id, group in links:
            if person_id is not None:
                people[int(shift_id)].append(int(person_id))
            elif group is not None:
                groups[int(shift_id)].append(group)
        return [
            ShiftRow(self._shift(r), tuple(people[int(r[0])]), tuple(groups[int(r[0])]))
            for r in rows
        ]

    @staticmethod
    def _shift(r: Any) -> Shift:
        return Shift(
            time.fromisoformat(r[2]), time.fromisoformat(r[3]), _parse_days(r[4]), r[1], int(r[0])
        )

    @staticmethod
    def _checked(name: str, start: time, end: time, days: frozenset[int]) -> tuple[time, time]:
        """A new or edited shift's rules; its times to the minute."""
        if not name or len(name) > 100 or not name.isprintable():
            raise InvalidInput("a shift's name is printable text of 1 to 100 characters")
        if start == end:
            raise InvalidInput("a shift's start and end must differ")
        if not days or any(d < 1 or d > 7 for d in days):
            raise InvalidInput("a shift's days are ISO weekdays 1 (Monday) to 7 (Sunday)")
        return start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)

    def add_shift(self, name: str, start: time, end: time, days: frozenset[int]) -> Shift:
        start, end = self._checked(name, start, end, days)
        with self.db.write() as tx:
            if tx.execute("SELECT 1 FROM attendance_shifts WHERE name = ?", (name,)):
                raise InvalidInput(f"a shift named {name!r} exists")
            rows = tx.execute(
                "INSERT INTO attendance_shifts (name, start_time, end_time, days) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (name, start.strftime("%H:%M"), end.strftime("%H:%M"), _days_text(days)),
            )
        return Shift(start, end, days, name, int(rows[0][0]))

    def update_shift(
        self, shift_id: int, name: str, start: time, end: time, days: frozenset[int]
    ) -> Shift:
        """Change a shift's name, hours or days; its people and groups keep it."""
        start, end = self._checked(name, start, end, days)
        with self.db.write() as tx:
            if tx.execute(
                "SELECT 1 FROM attendance_shifts WHERE name = ? AND id <> ?", (name, shift_id)
            ):
                raise InvalidInput(f"a shift named {name!r} exists")
            if not tx.execute(
                "UPDATE attendance_shifts SET name = ?, start_time = ?, end_time = ?, days = ? "
                "WHERE id = ? RETURNING id",
                (name, start.strftime("%H:%M"), end.strftime("%H:%M"), _days_text(days), shift_id),
            ):
                raise HrNotFound(f"no shift {shift_id}")
        return Shift(start, end, days, name, shift_id)

    def remove_shift(self, shift_id: int) -> None:
        with self.db.write() as tx:
            if not tx.execute(
                "DELETE FROM attendance_shifts WHERE id = ? RETURNING id", (shift_id,)
            ):
                raise HrNotFound(f"no shift {shift_id}")

    def assign(
        self, shift_id: int, *, person_id: int | None = None, group: str | None = None
    ) -> None:
        """Give one person or one access group this shift (replacing their previous one)."""
        if (person_id is None) == (group is None):
            raise InvalidInput("assign a shift to a person_id or a group, not both")
        with self.db.write() as tx:
            if not tx.execute("SELECT 1 FROM attendance_shifts WHERE id = ?", (shift_id,)):
                raise HrNotFound(f"no shift {shift_id}")
            if person_id is not None:
                if not tx.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)):
                    raise HrNotFound(f"no person {person_id}")
                tx.execute(
                    "DELETE FROM attendance_shift_assignments WHERE person_id = ?", (person_id,)
                )
                tx.execute(
                    "INSERT INTO attendance_shift_assignments (shift_id, person_id) VALUES (?, ?)",
                    (shift_id, person_id),
                )
                return
            group_id = self._group_id(tx, str(group))
            tx.execute("DELETE FROM attendance_shift_assignments WHERE group_id = ?", (group_id,))
            tx.execute(
                "INSERT INTO attendance_shift_assignments (shift_id, group_id) VALUES (?, ?)",
                (shift_id, group_id),
            )

    def unassign(self, *, person_id: int | None = None, group: str | None = None) -> None:
        """Back to the group's or the site's hours."""
        with self.db.write() as tx:
            if person_id is not None:
                tx.execute(
                    "DELETE FROM attendance_shift_assignments WHERE person_id = ?", (person_id,)
                )
            if group is not None:
                tx.execute(
                    "DELETE FROM attendance_shift_assignments WHERE group_id = ?",
                    (self._group_id(tx, group),),
                )

    @staticmethod
    def _group_id(tx: Tx, group: str) -> int:
        if not _text_ok(group):
            raise InvalidInput("a group's name is printable text")
        rows = tx.execute("SELECT id FROM access_groups WHERE name = ?", (group,))
        if not rows:
            raise HrNotFound(f"no group {group!r} (groups are the access groups)")
        return int(rows[0][0])

    def person_shifts(self) -> dict[int, Shift]:
        """Every person with a shift of their own or of a group (own first, then the group
        with the lowest shift id); people missing here work the site's hours."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT s.id, s.name, s.start_time, s.end_time, s.days, a.person_id, "
                "m.person_id FROM attendance_shift_assignments a "
                "JOIN attendance_shifts s ON s.id = a.shift_id "
                "LEFT JOIN access_group_members m ON m.group_id = a.group_id "
                "ORDER BY s.id"
            )
        own: dict[int, Shift] = {}
        grouped: dict[int, Shift] = {}
        for r in rows:
            shift = self._shift(r)
            if r[5] is not None:
                own[int(r[5])] = shift
            elif r[6] is not None:
                grouped.setdefault(int(r[6]), shift)
        return {**grouped, **own}

    # -- corrections --------------------------------------------------------------------------

    def add_correction(
        self,
        person_id: int,
        day: date,
        kind: Literal["in", "out"],
        at: datetime,
        reason: str,
        by: str,
    ) -> Correction:
        """A manual clock-in/out for ``person_id`` on working day ``day`` (kept for audit)."""
        if kind not in ("in", "out"):
            raise InvalidInput("kind must be in or out")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON or not _text_ok(reason):
            raise InvalidInput(
                f"a correction needs a reason (1 to {MAX_REASON} printable characters)"
            )
        if at.tzinfo is None:
            raise InvalidInput("a correction's time needs its zone")
        now = utcnow()
        with self.db.write() as tx:
            if not tx.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)):
                raise HrNotFound(f"no person {person_id}")
            rows = tx.execute(
                "INSERT INTO attendance_corrections "
                "(person_id, day, kind, at, reason, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (person_id, day.isoformat(), kind, self._t(at), reason, by[:200], self._t(now)),
            )
        return Correction(kind, at.astimezone(UTC), reason, by[:200], now, int(rows[0][0]))

    def corrections(
        self, first: date, last: date, person_id: int | None = None
    ) -> dict[tuple[int, date], list[Correction]]:
        """Corrections of working days ``first``..``last`` by (person, day), oldest first."""
        where = "day >= ? AND day <= ?"
        params: list[Any] = [first.isoformat(), last.isoformat()]
        if person_id is not None:
            where += " AND person_id = ?"
            params.append(person_id)
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT id, person_id, day, kind, at, reason, created_by, created_at "
                f"FROM attendance_corrections WHERE {where} ORDER BY created_at, id",
                params,
            )
        found: dict[tuple[int, date], list[Correction]] = defaultdict(list)
        for r in rows:
            found[(int(r[1]), as_day(r[2]))].append(
                Correction(
                    r[3],
                    self.db.from_db_time(r[4]).astimezone(UTC),
                    r[5],
                    r[6],
                    self.db.from_db_time(r[7]).astimezone(UTC),
                    int(r[0]),
                )
            )
        return found
