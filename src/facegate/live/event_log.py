"""The live event log: recognition events as short-lived rows every host reads (migration 14).

``/ws/events`` used to send each host's events from memory and proxy every other host's; a
listener that reconnected lost what it missed. Now every published ``RecognitionEvent`` becomes
one ``live_events`` row with an id that only grows (``EventWriter``), and every host serves
every host's rows to its listeners (``EventFeed``), who resume from the last id they saw.

Ids are handed out and committed in the same order, so a reader that has seen id N can never
later find a smaller one: on PostgreSQL an append takes one transaction advisory lock before
its INSERT (appends from all hosts queue there; the lock ends with the commit), on SQLite
``BEGIN IMMEDIATE`` already admits one writer at a time. On PostgreSQL the append also sends
``NOTIFY facegate_events, '<last id>'`` in its transaction: the payload is an id, never the
event, so it stays far below PostgreSQL's 8000-byte limit.

A row holds what ``RecognitionEvent.as_dict()`` shows plus the publisher's node and the lease
epoch; never a snapshot, an image or an embedding. The person's name is read from ``people``
when a row is read (a rename shows at once); deleting a person deletes their rows (ON DELETE
CASCADE), and an event whose person is already gone is not logged. ``logged_at`` is the
database's clock, which alone decides retention (``prune``, once per cluster).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from facegate.cluster.clock import SqlClock
from facegate.cluster.store import singleton
from facegate.events import RecognitionEvent
from facegate.gallery.db import Database, Row, Tx, advisory_key

EVENTS_CHANNEL = "facegate_events"
# Advisory lock class of the append order lock (first int4 key of pg_advisory_xact_lock).
_APPEND_LOCK_CLASS = 7265731
_COLUMNS = "e.id, e.node, e.kind, e.stream, e.at, e.track_id, e.person_id, p.name, e.score, e.box"
_FROM = "FROM live_events e LEFT JOIN people p ON p.id = e.person_id"


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A row of the log: the event (without snapshot), its id and the node that published it."""

    id: int
    node: str | None
    event: RecognitionEvent

    def as_dict(self) -> dict[str, object]:
        """What ``/ws/events`` sends: ``RecognitionEvent.as_dict()`` plus ``id`` and ``node``."""
        return {**self.event.as_dict(), "id": self.id, "node": self.node}


@dataclass(frozen=True, slots=True)
class Replay:
    """The rows a listener missed (oldest first) and the newest id the log had then."""

    events: tuple[LoggedEvent, ...]
    newest: int


class EventLog:
    """The ``live_events`` table over a database connection of its own (``another_connection``:
    a slow or unreachable database stalls this log, never recognition)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = SqlClock(db.dialect)

    def append(self, events: Sequence[RecognitionEvent], node: str | None) -> list[int]:
        """Log ``events`` in one transaction (and NOTIFY the last id on PostgreSQL); their ids,
        without the events whose person was deleted meanwhile."""
        ids: list[int] = []
        with self.db.write() as tx:
            if self.db.dialect == "postgres":
                tx.execute(
                    "SELECT pg_advisory_xact_lock(?, ?)",
                    (_APPEND_LOCK_CLASS, advisory_key("live-events")),
                )
            for event in events:
                if event.person_id is not None and not _person_kept(tx, self.db, event.person_id):
                    continue
                rows = tx.execute(
                    "INSERT INTO live_events (logged_at, at, stream, node, kind, track_id, "
                    f"person_id, score, box, epoch) VALUES ({self.clock.now}, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?) RETURNING id",
                    (
                        self.db.to_db_time(event.at),
                        event.stream,
                        node,
                        event.kind,
                        event.track_id,
                        event.person_id,
                        float(event.score),
                        None if event.box is None else json.dumps([float(v) for v in event.box]),
                        event.epoch,
                    ),
                )
                ids.append(int(rows[0][0]))
            if ids and self.db.dialect == "postgres":
                tx.execute("SELECT pg_notify(?, ?)", (EVENTS_CHANNEL, str(ids[-1])))
        return ids

    def after(self, cursor: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` rows with an id above ``cursor``, oldest first (what a feed reads)."""
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} {_FROM} WHERE e.id > ? ORDER BY e.id LIMIT ?", (cursor, limit)
            )
        return [self._row(r) for r in rows]

    def replay(self, cursor: int, limit: int) -> Replay:
        """The newest ``limit`` rows above ``cursor`` (oldest first) and the newest id, read in
        one snapshot (what a listener resuming from ``cursor`` is sent first)."""
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} {_FROM} WHERE e.id > ? ORDER BY e.id DESC LIMIT ?",
                (cursor, limit),
            )
            newest = tx.execute("SELECT MAX(id) FROM live_events")[0][0]
        return Replay(tuple(self._row(r) for r in reversed(rows)), int(newest or 0))

    def newest_id(self) -> int:
        """The highest id logged (0 for an empty log)."""
        with self.db.read() as tx:
            return int(tx.execute("SELECT MAX(id) FROM live_events")[0][0] or 0)

    def prune(self, keep_s: float) -> int:
        """Delete rows logged more than ``keep_s`` ago by the database's clock; once per cluster
        (a host that finds another one pruning skips). The number of rows deleted."""
        with self.db.write() as tx:
            if not singleton(tx, self.db, "live-events-prune"):
                return 0
            gone = tx.execute(
                f"DELETE FROM live_events WHERE logged_at < {self.clock.plus()} RETURNING id",
                (-float(keep_s),),
            )
        return len(gone)

    def _row(self, r: Row) -> LoggedEvent:
        box: Any = json.loads(r[9]) if r[9] else None
        event = RecognitionEvent(
            kind=r[2],
            stream=r[3],
            at=self.db.from_db_time(r[4]),
            track_id=None if r[5] is None else int(r[5]),
            person_id=None if r[6] is None else int(r[6]),
            person_name=r[7],
            score=float(r[8]),
            box=None if box is None else (box[0], box[1], box[2], box[3]),
        )
        return LoggedEvent(int(r[0]), r[1], event)


def _person_kept(tx: Tx, db: Database, person_id: int) -> bool:
    """Whether the person still exists; on PostgreSQL their row is key-share locked until the
    append commits, so a concurrent delete waits and then cascades to the new row too."""
    lock = " FOR KEY SHARE" if db.dialect == "postgres" else ""
    return bool(tx.execute(f"SELECT 1 FROM people WHERE id = ?{lock}", (person_id,)))
