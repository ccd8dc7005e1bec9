"""Fencing: which camera writes a former lease owner may still make (docs/cluster.md).

A camera's lease carries an epoch that grows on every take (``ClusterStore.acquire``), and
attendance and door events from the camera carry the epoch they were captured under. The rule,
here and nowhere else: **an event under epoch E is accepted iff it was captured before epoch
E+1 began** — while E was the camera's lease. Why not simply "E must be current": events
spooled on a host during a PostgreSQL outage (``facegate.attendance.spool``) drain after the
outage, when the lease may have moved on (or the same node re-took it after an expiry, which
bumps the epoch on purpose to fence the host's other workers); they were captured while the
host legitimately held the camera, so they count. An event captured after the next epoch began
comes from a former owner that did not know it had lost the camera (paused, cut off) and is
refused: the new owner records that moment.

A door decision is the exception: it acts now (an output opens the door), so it is accepted
only under the camera's *current* epoch (``captured=None``). A former owner that was paused
after seeing a face must not open the door seconds later; the new owner decides for that face.

So each epoch's start is kept on the database's clock (``camera_epochs``, migration 15),
written in the transaction that bumps the epoch, with ``clock_timestamp()`` *after* the lease
row's lock was obtained: a write under E that held the row (``FOR SHARE``) while the takeover
waited committed before E+1's recorded start. Capture times are host-clock times moved onto the
database's clock (the offset is measured in the same transaction, ``_offset``), because host
clocks may be skewed. The history is bounded: the cluster housekeeping (``ClusterStore.
housekeep``) drops starts older than ``EPOCH_HISTORY_S``; an event under an epoch whose
successor's start is gone is refused (the conservative side).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from facegate.cluster.clock import SqlClock
from facegate.gallery.db import Database, Tx, utcnow

# How long an epoch's start is kept: a spooled event older than this under a superseded epoch
# is refused. A week is far longer than the outages a host's spool (100,000 events) is sized
# for, and a camera's epochs are few per day (one per change of owner), so the table stays small.
EPOCH_HISTORY_S = 7 * 86400.0


def epoch_started(tx: Tx, db: Database, camera: str, epoch: int) -> None:
    """Inside the transaction that made ``epoch`` ``camera``'s lease: record when it began."""
    clock = SqlClock(db.dialect)
    tx.execute(
        "INSERT INTO camera_epochs (camera, epoch, started_at) "
        f"VALUES (?, ?, {clock.instant}) ON CONFLICT (camera, epoch) DO UPDATE SET "
        "started_at = excluded.started_at",
        (camera, epoch),
    )


def fence_ok(
    tx: Tx,
    db: Database,
    camera: str,
    epoch: int | None,
    captured: datetime | None,
    host_clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Inside a write transaction: whether a write from ``camera`` captured at ``captured``
    (aware, on this host's clock, read by ``host_clock``) under lease ``epoch`` may happen;
    ``captured=None`` for an action taking effect now, which only the current epoch may make.
    Epoch ``None`` (a TCP stream, a check-in) is never fenced; a camera without a lease row,
    or an epoch it never had, is. On PostgreSQL the lease row is share-locked until the write
    commits, so a takeover waits for it and the next epoch's start comes after it."""
    if epoch is None:
        return True
    lock = " FOR SHARE" if db.dialect == "postgres" else ""
    rows = tx.execute(f"SELECT epoch FROM camera_leases WHERE camera = ?{lock}", (camera,))
    current = int(rows[0][0]) if rows else None
    if current is None or current < epoch:
        return False
    if current == epoch:
        return True
    if captured is None:
        return False
    successor = tx.execute(
        "SELECT 1 FROM camera_epochs WHERE camera = ? AND epoch = ? AND started_at > ?",
        (
            camera,
            int(epoch) + 1,
            SqlClock(db.dialect).value(captured + _offset(tx, db, host_clock)),
        ),
    )
    return bool(successor)


def _offset(tx: Tx, db: Database, host_clock: Callable[[], datetime]) -> timedelta:
    """How far the database's clock is ahead of this host's, measured now. Not ``DbClock``
    (``now()`` is the transaction's start, milliseconds ago by now): the statement's own
    ``clock_timestamp()`` against the middle of the round trip, so the error is about half a
    round trip. SQLite is this host's clock."""
    if db.dialect != "postgres":
        return timedelta(0)
    before = host_clock()
    value = tx.execute("SELECT clock_timestamp()")[0][0]
    after = host_clock()
    return db.from_db_time(value) - (before + (after - before) / 2)


def prune_epochs(tx: Tx, db: Database, keep_s: float = EPOCH_HISTORY_S) -> int:
    """Inside the housekeeping transaction: forget epoch starts older than ``keep_s``."""
    clock = SqlClock(db.dialect)
    gone = tx.execute(
        f"DELETE FROM camera_epochs WHERE started_at < {clock.plus()} RETURNING camera",
        (-keep_s,),
    )
    return len(gone)
