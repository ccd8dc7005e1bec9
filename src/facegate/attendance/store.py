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

Clocks (docs/cluster.md, "Time"): the cooldown compares capture times, and in a cluster the
event of a camera may be recorded by a host whose clock is off. Each insert transaction reads
the database's ``now()`` anyway; when the recording host's clock differs from it by more than
``SKEW_TOLERANCE`` the event's capture time is moved onto the database's clock before the
cooldown check and the insert, so one walk past a door stays one event across hosts (the
recording host is the capturing host: each host records its own cameras' events).

Nothing here logs images; snapshots are stored as given and erased after their retention.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facegate.attendance.rules import AttendancePolicy, Direction, cooldown_window
from facegate.cluster.fencing import fence_ok
from facegate.cluster.store import singleton
from facegate.delivery import stored_time
from facegate.events import EventKind
from facegate.gallery.db import Database, Row, Tx, advisory_key, db_now, utcnow

log = logging.getLogger(__name__)
# A host clock within this of the database's is left alone (NTP-level noise).
SKEW_TOLERANCE = timedelta(seconds=2)

# Advisory lock class for "(person, camera) cooldown check" on PostgreSQL (first int4 key).
_PG_LOCK_CLASS = 7265721
_EVENT_COLUMNS = (
    "e.id, e.person_id, p.name, p.external_id, e.kind, e.camera, e.direction, e.at, e.score, "
    "e.track_id, e.snapshot IS NOT NULL"
)
_FROM = "FROM attendance_events e LEFT JOIN people p ON p.id = e.person_id"
# An event a reviewer marked "wrong name" (facegate.review, table review_marks) is not the
# person's attendance: the one condition every counting query (reports, summaries, exports)
# adds through ``events(counted=True)``. The log and the review list still show the event.
COUNTED = (
    "NOT EXISTS (SELECT 1 FROM review_marks m WHERE m.event_id = e.id AND m.verdict = 'wrong_name')"
)


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
    # The local spool's idempotency key (spool.py): a replay of the same key is a duplicate.
    key: str | None = None
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
    # "cooldown", "unknown_person", "duplicate" (this key was committed before) or "fenced"
    # (captured after the camera's next lease epoch began: facegate.cluster.fencing) when
    # nothing was logged
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
        policy: AttendancePolicy | Callable[[], AttendancePolicy],
        *,
        webhook_urls: Sequence[str] = (),
        keep_snapshots: bool = True,
        host_clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.host_clock = host_clock
        self._skew_logged = False
        # A callable reads the site settings (facegate.attendance.site) on each use.
        self._policy = policy
        self.webhook_urls = tuple(webhook_urls)
        self.keep_snapshots = keep_snapshots

    @property
    def policy(self) -> AttendancePolicy:
        return self._policy if isinstance(self._policy, AttendancePolicy) else self._policy()

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
        policy = self.policy  # read before the transaction (the site settings may read the DB)
        with self.db.write() as tx:
            if not fence_ok(tx, self.db, new.camera, new.epoch, new.at, self.host_clock):
                return Recorded(None, reason="fenced")
            now = db_now(self.db, tx)
            at = self._on_db_clock(new.at, now)
            if new.key is not None:
                done = tx.execute("SELECT id FROM attendance_events WHERE idem_key = ?", (new.key,))
                if done:
                    return Recorded(None, suppressed_by=int(done[0][0]), reason="duplicate")
            if new.person_id is not None:
                if not tx.execute("SELECT 1 FROM people WHERE id = ?", (new.person_id,)):
                    return Recorded(None, reason="unknown_person")  # deleted meanwhile
                if self.db.dialect == "postgres":
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(?, ?)",
                        (_PG_LOCK_CLASS, advisory_key(new.person_id, new.camera)),
                    )
                low, high = cooldown_window(at, policy.cooldown)
                near = tx.execute(
                    "SELECT id FROM attendance_events WHERE person_id = ? AND camera = ? "
                    "AND at > ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
                    (new.person_id, new.camera, self.t(low), self.t(high)),
                )
                if near:
                    return Recorded(None, suppressed_by=int(near[0][0]), reason="cooldown")
            rows = tx.execute(
                "INSERT INTO attendance_events (person_id, kind, camera, direction, at, score, "
                "track_id, snapshot, created_at, idem_key, epoch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (idem_key) DO NOTHING RETURNING id",
                (
                    new.person_id,
                    new.kind,
                    new.camera,
                    new.direction,
                    self.t(at),
                    float(new.score),
                    new.track_id,
                    snapshot,
                    self.t(now),
                    new.key,
                    new.epoch,
                ),
            )
            if not rows:  # another drainer committed this key at the same moment
                return Recorded(None, reason="duplicate")
            event = self._get(tx, int(rows[0][0]))
            if event.person_id is not None and self.webhook_urls:
                self._queue_webhooks(tx, event, policy)
        return Recorded(event)

    def _on_db_clock(self, at: datetime, db_time: datetime) -> datetime:
        """``at`` (this host's clock) moved onto the database's clock when the two differ by
        more than ``SKEW_TOLERANCE``; SQLite is this host's clock."""
        if self.db.dialect == "sqlite":
            return at
        offset = db_time - self.host_clock()
        if abs(offset) <= SKEW_TOLERANCE:
            return at
        if not self._skew_logged:
            self._skew_logged = True
            log.warning(
                "this host's clock is %.1f s off the database's: attendance times are moved "
                "onto the database's clock (run NTP)",
                -offset.total_seconds(),
            )
        return at + offset

    def _queue_webhooks(
        self, tx: Tx, event: AttendanceEvent, policy: AttendancePolicy | None = None
    ) -> None:
        payload = self.webhook_body(event, policy)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        now = self.t(db_now(self.db, tx))  # due now on the database's clock
        tx.executemany(
            "INSERT INTO attendance_webhooks (event_id, url, body, next_attempt_at) "
            "VALUES (?, ?, ?, ?)",
            [(event.id, url, body, now) for url in self.webhook_urls],
        )

    def webhook_body(
        self, event: AttendanceEvent, policy: AttendancePolicy | None = None
    ) -> dict[str, Any]:
        """The JSON a webhook receiver gets (docs/attendance.md)."""
        policy = policy or self.policy
        return {
            "type": "attendance.event",
            "event": {
                **event.as_dict(),
                "working_day": policy.working_day(event.at).isoformat(),
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
        counted: bool = False,
    ) -> EventPage:
        """Events matching every given filter, newest first; ``since`` inclusive, ``until``
        exclusive. ``limit`` 0 means no limit (reports). ``counted``: only events that count
        for attendance (not marked "wrong name" in review, ``COUNTED``)."""
        where: list[str] = [COUNTED] if counted else ["1 = 1"]
        params: list[Any] = []
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
