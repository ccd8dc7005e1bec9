"""The durable attendance log: events in SQLite or PostgreSQL, next to the gallery.

Why the cooldown lives here and not in memory: several worker processes (each with its own
stream server and recorder) and restarts must agree that one walk past a door is one event.
So the events of (person, camera) within the cooldown on either side of the new one
(``rules.cooldown_window``) are read *inside the insert transaction*, which is
serialised across processes: SQLite's ``BEGIN IMMEDIATE`` takes the write lock first, and on
PostgreSQL an advisory transaction lock on (person, camera) makes the check-then-insert atomic.

A webhook for the event is written to the outbox (``attendance_webhooks``) in the same
transaction, so an event is never logged without its webhook nor a webhook sent for an event
that was rolled back. Deleting a person cascades to their events and pending webhooks.

Nothing here logs images; snapshots are stored as given and erased after their retention.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facegate.attendance.rules import AttendancePolicy, Direction, cooldown_window
from facegate.cluster.store import fence_ok, singleton
from facegate.delivery import stored_time
from facegate.events import EventKind
from facegate.gallery.db import Database, Row, Tx, advisory_key, utcnow

# Advisory lock class for "(person, camera) cooldown check" on PostgreSQL (first int4 key).
_PG_LOCK_CLASS = 7265721
_EVENT_COLUMNS = (
    "e.id, e.person_id, p.name, p.external_id, e.kind, e.camera, e.direction, e.at, e.score, "
    "e.track_id, e.snapshot IS NOT NULL"
)
_FROM = "FROM attendance_events e LEFT JOIN people p ON p.id = e.person_id"


@dataclass(frozen=True)
class NewEvent:
    """An event to log. ``at`` must be aware (it is stored in UTC)."""

    kind: EventKind
    camera: str
    direction: Direction
    at: datetime
    score: float
    person_id: int | None = None
    track_id: int | None = None
    snapshot: bytes | None = None
    epoch: int | None = None  # a camera's lease epoch (facegate.cluster); None: not fenced


@dataclass(frozen=True)
class AttendanceEvent:
    """A logged event with the person's current name (None for unknown faces)."""

    id: int
    person_id: int | None
    person_name: str | None
    external_id: str | None
    kind: EventKind
    camera: str
    direction: Direction
    at: datetime
    score: float
    track_id: int | None
    has_snapshot: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "person": None
            if self.person_id is None
            else {"id": self.person_id, "name": self.person_name, "external_id": self.external_id},
            "camera": self.camera,
            "direction": self.direction,
            "at": self.at.isoformat(),
            "similarity": round(self.score, 4),
            "track_id": self.track_id,
            "has_snapshot": self.has_snapshot,
        }


@dataclass(frozen=True)
class Recorded:
    """The outcome of ``record``: the new event, or the earlier one that suppressed it."""

    event: AttendanceEvent | None
    suppressed_by: int | None = None
    # "cooldown", "unknown_person" or "fenced" (the camera's lease epoch moved on: another
    # host owns it now) when nothing was logged
    reason: str | None = None


@dataclass(frozen=True)
class EventPage:
    items: list[AttendanceEvent]
    total: int


class AttendanceStore:
    """Attendance events over the gallery's database (the migrations are the gallery's)."""

    def __init__(
        self,
        db: Database,
        policy: AttendancePolicy,
        *,
        webhook_urls: Sequence[str] = (),
        keep_snapshots: bool = True,
    ) -> None:
        self.db = db
        self.policy = policy
        self.webhook_urls = tuple(webhook_urls)
        self.keep_snapshots = keep_snapshots

    # -- time ---------------------------------------------------------------------------------

    def t(self, value: datetime) -> Any:
        """A datetime as stored: on SQLite fixed-width UTC text, so text order is time order."""
        return stored_time(self.db, value)

    def _event(self, row: Row) -> AttendanceEvent:
        return AttendanceEvent(
            id=int(row[0]),
            person_id=None if row[1] is None else int(row[1]),
            person_name=row[2],
            external_id=row[3],
            kind=row[4],
            camera=row[5],
            direction=row[6],
            at=self.db.from_db_time(row[7]).astimezone(UTC),
            score=float(row[8]),
            track_id=None if row[9] is None else int(row[9]),
            has_snapshot=bool(row[10]),
        )

    # -- writing ------------------------------------------------------------------------------

    def record(self, new: NewEvent) -> Recorded:
        """Log ``new`` unless the same person was logged on the same camera within the
        cooldown; a known person's event also queues its webhooks (same transaction)."""
        snapshot = new.snapshot if self.keep_snapshots else None
        with self.db.write() as tx:
            if not fence_ok(tx, self.db, new.camera, new.epoch):
                return Recorded(None, reason="fenced")
            if new.person_id is not None:
                if not tx.execute("SELECT 1 FROM people WHERE id = ?", (new.person_id,)):
                    return Recorded(None, reason="unknown_person")  # deleted meanwhile
                if self.db.dialect == "postgres":
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(?, ?)",
                        (_PG_LOCK_CLASS, advisory_key(new.person_id, new.camera)),
                    )
                low, high = cooldown_window(new.at, self.policy.cooldown)
                near = tx.execute(
                    "SELECT id FROM attendance_events WHERE person_id = ? AND camera = ? "
                    "AND at > ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
                    (new.person_id, new.camera, self.t(low), self.t(high)),
                )
                if near:
                    return Recorded(None, suppressed_by=int(near[0][0]), reason="cooldown")
            rows = tx.execute(
                "INSERT INTO attendance_events (person_id, kind, camera, direction, at, score, "
                "track_id, snapshot, created_at, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (
                    new.person_id,
                    new.kind,
                    new.camera,
                    new.direction,
                    self.t(new.at),
                    float(new.score),
                    new.track_id,
                    snapshot,
                    self.t(utcnow()),
                    new.epoch,
                ),
            )
            event = self._get(tx, int(rows[0][0]))
            if event.person_id is not None and self.webhook_urls:
                self._queue_webhooks(tx, event)
        return Recorded(event)

    def _queue_webhooks(self, tx: Tx, event: AttendanceEvent) -> None:
        body = json.dumps(self.webhook_body(event), ensure_ascii=False, separators=(",", ":"))
        now = self.t(utcnow())
        tx.executemany(
            "INSERT INTO attendance_webhooks (event_id, url, body, next_attempt_at) "
            "VALUES (?, ?, ?, ?)",
            [(event.id, url, body, now) for url in self.webhook_urls],
        )

    def webhook_body(self, event: AttendanceEvent) -> dict[str, Any]:
        """The JSON a webhook receiver gets (docs/attendance.md)."""
        return {
            "type": "attendance.event",
            "event": {
                **event.as_dict(),
                "working_day": self.policy.working_day(event.at).isoformat(),
            },
        }

    # -- reading ------------------------------------------------------------------------------

    def _get(self, tx: Tx, event_id: int) -> AttendanceEvent:
        return self._event(
            tx.execute(f"SELECT {_EVENT_COLUMNS} {_FROM} WHERE e.id = ?", (event_id,))[0]
        )

    def get(self, event_id: int) -> AttendanceEvent | None:
        with self.db.read() as tx:
            rows = tx.execute(f"SELECT {_EVENT_COLUMNS} {_FROM} WHERE e.id = ?", (event_id,))
        return self._event(rows[0]) if rows else None

    def snapshot(self, event_id: int) -> bytes | None:
        with self.db.read() as tx:
            rows = tx.execute("SELECT snapshot FROM attendance_events WHERE id = ?", (event_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def events(
        self,
        *,
        person_id: int | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> EventPage:
        """Events matching every given filter, newest first; ``since`` inclusive, ``until``
        exclusive. ``limit`` 0 means no limit (reports)."""
        where, params = ["1 = 1"], []
        if person_id is not None:
            where.append("e.person_id = ?")
            params.append(person_id)
        if camera is not None:
            where.append("e.camera = ?")
            params.append(camera)
        if since is not None:
            where.append("e.at >= ?")
            params.append(self.t(since))
        if until is not None:
            where.append("e.at < ?")
            params.append(self.t(until))
        if kinds:
            where.append(f"e.kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        clause = " AND ".join(where)
        order = "ASC" if oldest_first else "DESC"
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit else ""
        with self.db.read() as tx:
            total = int(tx.execute(f"SELECT COUNT(*) {_FROM} WHERE {clause}", params)[0][0])
            rows = tx.execute(
                f"SELECT {_EVENT_COLUMNS} {_FROM} WHERE {clause} "
                f"ORDER BY e.at {order}, e.id {order}{page}",
                params,
            )
        return EventPage([self._event(r) for r in rows], total)

    def people(self) -> list[tuple[int, str, str | None]]:
        """Every enrolled person as (id, name, external id), by name: the daily report lists
        people who never showed up too."""
        with self.db.read() as tx:
            rows = tx.execute("SELECT id, name, external_id FROM people ORDER BY name, id")
        return [(int(r[0]), r[1], r[2]) for r in rows]

    # -- retention ----------------------------------------------------------------------------

    def purge(self, *, snapshots_before: datetime, unknown_before: datetime) -> tuple[int, int]:
        """Erase snapshots older than their retention and unknown-face events older than
        theirs; returns (snapshots erased, unknown events deleted). Once per cluster: a host
        that finds another one purging skips (facegate.cluster.store.singleton)."""
        with self.db.write() as tx:
            if not singleton(tx, self.db, "attendance-purge"):
                return 0, 0
            snaps = tx.execute(
                "UPDATE attendance_events SET snapshot = NULL "
                "WHERE snapshot IS NOT NULL AND at < ? RETURNING id",
                (self.t(snapshots_before),),
            )
            unknown = tx.execute(
                "DELETE FROM attendance_events WHERE kind = 'unknown' AND at < ? RETURNING id",
                (self.t(unknown_before),),
            )
        if snaps or unknown:
            self.db.after_erase()
        return len(snaps), len(unknown)


def retention_cutoffs(
    now: datetime, snapshot_days: float, unknown_days: float
) -> dict[str, datetime]:
    """The ``purge`` arguments for retention periods given in days."""
    return {
        "snapshots_before": now - timedelta(days=snapshot_days),
        "unknown_before": now - timedelta(days=unknown_days),
    }
