"""The local spool: recognition events on this host's disk until the database has them.

Why: the attendance log lives in the main database (PostgreSQL in a cluster). Before the spool
an event the recorder could not write within ~1.2 s of retries was dropped, so a PostgreSQL
restart, a failover or a cut link lost check-ins, and so did a host crash while events waited
in memory. Now the recorder appends each event here first (SQLite in WAL mode with
``synchronous=FULL``: the append is on disk when it returns) and a drain thread moves events
into the database in order, each with a random idempotency key written in the same row
(``attendance_events.idem_key``, unique). A replay after a crash between the database commit
and the spool delete, or the same row drained by two worker processes at once, is a no-op.
An outage therefore delays events and never drops them; what is still here at the next start
is drained then.

Bounded: at most ``max_events`` rows. When full, the **oldest are kept** and a new event is
refused, counted in ``refused`` and logged with ids only (the backlog is the record of what
happened first; an outage longer than the bound loses its newest events, never a gap in the
middle). At 100,000 events a spool is some tens of MB with snapshots off.

Privacy: rows hold person ids, never names; a snapshot only when the attendance log keeps
snapshots; ``secure_delete`` zeroes drained rows. A person deleted while their events wait is
refused by the database when drained (``unknown_person``) and the row is removed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from facegate.events import RecognitionEvent

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    snapshot BLOB,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class Spooled:
    """One waiting event with its idempotency key."""

    seq: int
    key: str
    event: RecognitionEvent
    attempts: int


def _encode(event: RecognitionEvent) -> str:
    return json.dumps(
        {
            "kind": event.kind,
            "stream": event.stream,
            "at": event.at.isoformat(),
            "track_id": event.track_id,
            "person_id": event.person_id,
            "score": event.score,
            "box": event.box,
            "epoch": event.epoch,  # the camera's lease epoch: fencing needs it at drain time
        },
        separators=(",", ":"),
    )


def _decode(text: str, snapshot: bytes | None) -> RecognitionEvent:
    data = json.loads(text)
    box = data.get("box")
    return RecognitionEvent(
        kind=data["kind"],
        stream=data["stream"],
        at=datetime.fromisoformat(data["at"]),
        track_id=data.get("track_id"),
        person_id=data.get("person_id"),
        person_name=None,  # names are not spooled; the log joins the current name
        score=float(data["score"]),
        box=None if box is None else (box[0], box[1], box[2], box[3]),
        snapshot=snapshot,
        epoch=data.get("epoch"),
    )


class Spool:
    """A durable FIFO of events in ``path`` (shared safely by the processes of one host)."""

    def __init__(self, path: Path, *, max_events: int = 100_000) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        self.path = path
        self.max_events = max_events
        self.refused = 0
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")  # an append survives a power cut
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute(_SCHEMA)

    def append(self, event: RecognitionEvent) -> str | None:
        """Put ``event`` on disk; returns its key, or None when the spool is full (refused)."""
        key = uuid.uuid4().hex
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                (count,) = self._conn.execute("SELECT COUNT(*) FROM spool").fetchone()
                if count >= self.max_events:
                    self._conn.execute("ROLLBACK")
                    self.refused += 1
                    log.error(
                        "spool full (%d events): event of person %s on %s refused",
                        count,
                        event.person_id,
                        event.stream,
                    )
                    return None
                self._conn.execute(
                    "INSERT INTO spool (key, event, snapshot) VALUES (?, ?, ?)",
                    (key, _encode(event), event.snapshot),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return key

    def peek(self, limit: int = 50) -> list[Spooled]:
        """The oldest waiting events, in order (they stay until ``done``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, key, event, snapshot, attempts FROM spool ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Spooled(int(r[0]), r[1], _decode(r[2], None if r[3] is None else bytes(r[3])), r[4])
            for r in rows
        ]

    def done(self, seq: int) -> None:
        """The event is in the database (or was refused by it for good): forget it."""
        with self._lock:
            self._conn.execute("DELETE FROM spool WHERE seq = ?", (seq,))

    def attempted(self, seq: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE spool SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
