"""Door events: every decision, durable, with its outputs' messages in the same transaction.

``DoorEvents.decide`` turns an ``Attempt`` (a face at a door camera, from a door watcher) into
a decision: inside ONE write transaction it reads the door's current configuration, the
person's pass, groups, the door's rules and today's holidays and the anti-passback state,
applies the pure policy (``policy.decide``), inserts the event, updates the anti-passback
state and hands the decision (and an alarm, if any) to the outputs' outbox
(``Dispatcher.enqueue``). So an event is never recorded without its messages, two workers
never both let a person in through an anti-passback door (SQLite's ``BEGIN IMMEDIATE``; an
advisory lock on PostgreSQL), and a configuration change applies from the next decision on.

Deleting a person cascades to their events (and snapshots), memberships, pass and
anti-passback state. Nothing here logs images or names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from facegate.access.messages import DoorMessage
from facegate.access.outputs import Dispatcher
from facegate.access.policy import Holiday, LivenessState, Rule, Situation, Verdict, decide
from facegate.access.store import AccessNotFound, AccessStore, Door, as_date
from facegate.attendance.reports import csv_text
from facegate.cluster.fencing import fence_ok
from facegate.cluster.store import singleton
from facegate.gallery.db import Row, Tx, advisory_key, as_day, utcnow

_PG_LOCK_CLASS = 7265722  # advisory lock class: "(door, person) decision"
_COLUMNS = (
    "e.id, e.at, e.door, e.camera, e.direction, e.person_id, p.name, e.decision, e.reason, "
    "e.alarm, e.score, e.liveness, e.track_id, e.box, e.snapshot IS NOT NULL, e.captured, "
    "e.latency_ms"
)
_FROM = "FROM access_events e LEFT JOIN people p ON p.id = e.person_id"


@dataclass(frozen=True, slots=True)
class Attempt:
    """A face at a door camera that needs a decision (built by a door watcher).

    ``confirmed`` False: the face was there for a while and never confirmed. ``liveness`` is
    the verdict's state (``live`` when the door does not ask), ``liveness_note`` its method
    and reason for the event. ``seen`` is ``time.time()`` when the watcher saw the deciding
    frame (the decision's ``latency_ms`` starts there); ``captured`` is that frame's capture
    time (the source's clock; stored as the event's ``captured``, ``seen`` when unknown);
    ``box`` the face box and frame size for the door page's overlay."""

    door: str
    camera: str
    direction: str
    confirmed: bool
    person_id: int | None
    score: float | None
    track_id: int | None
    seen: float
    liveness: LivenessState = "live"
    liveness_note: str | None = None
    box: tuple[float, float, float, float, int, int] | None = None
    snapshot: bytes | None = None
    captured: float | None = None
    epoch: int | None = None  # the camera's lease epoch (facegate.cluster); None: not fenced


@dataclass(frozen=True, slots=True)
class DoorEvent:
    id: int
    at: datetime
    door: str
    camera: str
    direction: str
    person_id: int | None
    person_name: str | None
    decision: str
    reason: str
    alarm: str | None
    score: float | None
    liveness: str | None
    track_id: int | None
    box: list[float] | None
    has_snapshot: bool
    captured: float | None
    latency_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "door": self.door,
            "camera": self.camera,
            "direction": self.direction,
            "person": None
            if self.person_id is None
            else {"id": self.person_id, "name": self.person_name},
            "decision": self.decision,
            "reason": self.reason,
            "alarm": self.alarm,
            "score": None if self.score is None else round(self.score, 4),
            "liveness": self.liveness,
            "track_id": self.track_id,
            "box": self.box,
            "has_snapshot": self.has_snapshot,
            "captured": self.captured,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[DoorEvent]
    total: int


class DoorEvents:
    """Decisions recorded as door events, and reading them back."""

    def __init__(self, store: AccessStore, timezone: ZoneInfo, *, snapshots: bool = True) -> None:
        self.store, self.db, self.timezone = store, store.db, timezone
        self.snapshots = snapshots
        self.fenced = 0  # attempts refused: the camera's lease epoch had moved on

    # -- deciding -----------------------------------------------------------------------------

    def _situation(self, tx: Tx, door: Door, attempt: Attempt, now: datetime) -> Situation:
        base = Situation(
            now=now,
            timezone=self.timezone,
            confirmed=attempt.confirmed,
            person_id=attempt.person_id,
            liveness=attempt.liveness,
            undecided=door.undecided,
            direction="out" if attempt.direction == "out" else "in",
            anti_passback=door.anti_passback,
        )
        pid = attempt.person_id
        if not attempt.confirmed or pid is None:
            return base
        if self.db.dialect == "postgres":
            tx.execute(
                "SELECT pg_advisory_xact_lock(?, ?)", (_PG_LOCK_CLASS, advisory_key(door.name, pid))
            )
        groups = tx.execute("SELECT group_id FROM access_group_members WHERE person_id = ?", (pid,))
        rules = tx.execute(
            "SELECT group_id, weekdays, from_minute, to_minute, date_from, date_to "
            "FROM access_rules WHERE door_id = ?",
            (door.id,),
        )
        local_day = now.astimezone(self.timezone).date().isoformat()
        holidays = tx.execute(
            "SELECT day, closed, door_id FROM access_holidays "
            "WHERE day = ? AND (door_id IS NULL OR door_id = ?)",
            (local_day, door.id),
        )
        inside = tx.execute(
            "SELECT inside FROM access_passback WHERE door_id = ? AND person_id = ?",
            (door.id, pid),
        )
        return replace(
            base,
            person_pass=self.store.person_pass_in(tx, pid),
            groups=frozenset(int(g[0]) for g in groups),
            rules=tuple(
                Rule(int(r[0]), int(r[1]), int(r[2]), int(r[3]), as_date(r[4]), as_date(r[5]))
                for r in rules
            ),
            holidays=tuple(
                Holiday(as_day(h[0]), bool(h[1]), None if h[2] is None else int(h[2]))
                for h in holidays
            ),
            inside=bool(inside and inside[0][0]),
        )

    def decide(
        self, attempt: Attempt, dispatcher: Dispatcher, *, now: datetime | None = None
    ) -> tuple[DoorEvent, Verdict] | None:
        """Decide, record and queue the outputs in one transaction; None when the door was
        removed or disabled (or the person deleted) meanwhile, or when the attempt's camera
        lease is no longer this epoch (facegate.cluster.fencing: a decision acts now, so only
        the current owner makes it; the new owner decides for that face)."""
        now = now or utcnow()
        with self.db.write() as tx:
            try:
                door = self.store.door_in(tx, attempt.door)
            except AccessNotFound:
                return None
            if not door.enabled:
                return None
            if not fence_ok(tx, self.db, attempt.camera, attempt.epoch, None):
                self.fenced += 1  # another host owns the camera now: it decides there
                return None
            if attempt.person_id is not None and not tx.execute(
                "SELECT 1 FROM people WHERE id = ?", (attempt.person_id,)
            ):
                return None
            verdict = decide(self._situation(tx, door, attempt, now))
            latency = max(0.0, (now.timestamp() - attempt.seen) * 1000.0)
            rows = tx.execute(
                "INSERT INTO access_events (at, door, camera, direction, person_id, decision, "
                "reason, alarm, score, liveness, track_id, box, snapshot, captured, latency_ms, "
                "epoch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    self.store.t(now),
                    door.name,
                    attempt.camera,
                    "out" if attempt.direction == "out" else "in",
                    attempt.person_id,
                    verdict.decision,
                    verdict.reason,
                    verdict.alarm,
                    attempt.score,
                    attempt.liveness_note or attempt.liveness,
                    attempt.track_id,
                    None if attempt.box is None else json.dumps(list(attempt.box)),
                    attempt.snapshot if self.snapshots else None,
                    attempt.seen if attempt.captured is None else attempt.captured,
                    latency,
                    attempt.epoch,
                ),
            )
            event = self._event(tx.execute(f"SELECT {_COLUMNS} {_FROM} WHERE e.id = ?", rows[0])[0])
            if verdict.granted and attempt.person_id is not None:
                tx.execute(
                    "INSERT INTO access_passback (door_id, person_id, inside, at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (door_id, person_id) DO UPDATE SET "
                    "inside = excluded.inside, at = excluded.at",
                    (door.id, attempt.person_id, event.direction == "in", self.store.t(now)),
                )
            for message in messages_for(event, verdict):
                dispatcher.enqueue(tx, message, door.outputs)
        return event, verdict

    # -- reading ------------------------------------------------------------------------------

    def _event(self, row: Row) -> DoorEvent:
        return DoorEvent(
            id=int(row[0]),
            at=self.db.from_db_time(row[1]).astimezone(UTC),
            door=row[2],
            camera=row[3],
            direction=row[4],
            person_id=None if row[5] is None else int(row[5]),
            person_name=row[6],
            decision=row[7],
            reason=row[8],
            alarm=row[9],
            score=None if row[10] is None else float(row[10]),
            liveness=row[11],
            track_id=None if row[12] is None else int(row[12]),
            box=None if row[13] is None else json.loads(row[13]),
            has_snapshot=bool(row[14]),
            captured=None if row[15] is None else float(row[15]),
            latency_ms=None if row[16] is None else float(row[16]),
        )

    def events(
        self,
        *,
        door: str | None = None,
        person_id: int | None = None,
        decision: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> EventPage:
        """Events matching every filter, newest first; ``since`` inclusive, ``until``
        exclusive, ``after_id`` only newer events (the door page's refresh); ``limit`` 0:
        all (CSV)."""
        where, params = ["1 = 1"], []
        for clause, value in (
            ("e.door = ?", door),
            ("e.person_id = ?", person_id),
            ("e.decision = ?", decision),
            ("e.at >= ?", None if since is None else self.store.t(since)),
            ("e.at < ?", None if until is None else self.store.t(until)),
            ("e.id > ?", after_id),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql_where = " AND ".join(where)
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit else ""
        with self.db.read() as tx:
            total = int(tx.execute(f"SELECT COUNT(*) {_FROM} WHERE {sql_where}", params)[0][0])
            rows = tx.execute(
                f"SELECT {_COLUMNS} {_FROM} WHERE {sql_where} ORDER BY e.at DESC, e.id DESC{page}",
                params,
            )
        return EventPage([self._event(r) for r in rows], total)

    def snapshot(self, event_id: int) -> bytes | None:
        with self.db.read() as tx:
            rows = tx.execute("SELECT snapshot FROM access_events WHERE id = ?", (event_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def counts_since(self, since: datetime) -> dict[str, dict[str, int]]:
        """Door name -> {"granted": n, "denied": n} since a moment (the doors list's today)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT door, decision, COUNT(*) FROM access_events WHERE at >= ? "
                "GROUP BY door, decision",
                (self.store.t(since),),
            )
        counts: dict[str, dict[str, int]] = {}
        for door, decision, n in rows:
            counts.setdefault(door, {"granted": 0, "denied": 0})[decision] = int(n)
        return counts

    def purge_snapshots(self, before: datetime) -> int:
        """Erase door snapshots taken before ``before``; once per cluster (a host that finds
        another one purging skips: facegate.cluster.store.singleton)."""
        with self.db.write() as tx:
            if not singleton(tx, self.db, "access-purge"):
                return 0
            rows = tx.execute(
                "UPDATE access_events SET snapshot = NULL WHERE snapshot IS NOT NULL AND at < ? "
                "RETURNING id",
                (self.store.t(before),),
            )
        if rows:
            self.db.after_erase()
        return len(rows)


def messages_for(event: DoorEvent, verdict: Verdict) -> list[DoorMessage]:
    """The decision message and, with an alarm, the alarm message for the outputs."""
    common: dict[str, Any] = {
        "event_id": event.id,
        "door": event.door,
        "camera": event.camera,
        "direction": event.direction,
        "at": event.at,
        "decision": verdict.decision,
        "reason": verdict.reason,
        "person_id": event.person_id,
        "person_name": event.person_name,
        "score": event.score,
        "liveness": event.liveness,
        "captured": event.captured,
    }
    out = [DoorMessage(kind="decision", **common)]
    if verdict.alarm is not None:
        out.append(DoorMessage(kind="alarm", alarm=verdict.alarm, **common))
    return out


CSV_HEADER = (
    "id", "at", "local_time", "door", "camera", "direction", "person_id", "name", "decision",
    "reason", "alarm", "score", "liveness", "latency_ms",
)  # fmt: skip


def events_csv(events: Iterable[DoorEvent], timezone: tzinfo, *, with_header: bool = True) -> str:
    """Door events as CSV (the API's ``format=csv`` and ``facegate access events --csv``)."""
    return csv_text(
        CSV_HEADER,
        (
            (
                e.id,
                e.at.isoformat(),
                e.at.astimezone(timezone).isoformat(),
                e.door,
                e.camera,
                e.direction,
                e.person_id,
                e.person_name,
                e.decision,
                e.reason,
                e.alarm,
                None if e.score is None else f"{e.score:.4f}",
                e.liveness,
                None if e.latency_ms is None else f"{e.latency_ms:.1f}",
            )
            for e in events
        ),
        with_header=with_header,
    )
