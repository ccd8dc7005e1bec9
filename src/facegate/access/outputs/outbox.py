"""``access_outbox``: every door message for every output, from enqueue to delivered or failed.

Why a table: the rows are inserted in the same transaction as their door event, so a crash
never loses an acknowledged decision's messages and recognition never waits on a receiver (it
only inserts rows). Delivery threads in any process claim due rows with a lease
(``lease_owner``/``lease_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's serialised
writers otherwise), so one message is sent by one worker at a time, and a worker that dies
mid-send lets its lease run out and the row be sent again (at least once; receivers
de-duplicate on ``delivery_id``). Final rows are kept for the events' output status and swept
after ``access_outbox_retention_days``; a person's deletion cascades to their rows.

A row holds a copy of its output's configuration (with any secret) while it is pending, since
the door may change meanwhile and another process must be able to send it; the copy is erased
when the row becomes final.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from facegate.access.messages import DoorMessage
from facegate.access.outputs import DoorOutputs, OutputStatus, WebhookOutput, revealed
from facegate.cluster.store import singleton
from facegate.delivery import MAX_ERROR_CHARS, DbClock, skip_locked, stored_time
from facegate.gallery.db import Database, Row, Tx, db_now, utcnow

OutputKind = Literal["webhook", "mqtt", "relay"]
OutputState = Literal["pending", "delivered", "failed"]
_COLUMNS = (
    "id, event_id, door, kind, output, output_key, config, payload, delivery_id, attempts, "
    "created_at, expires_at, lease_until, lane"
)
_PENDING = "delivered_at IS NULL AND failed_at IS NULL"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed row. ``attempts`` includes the try now being made."""

    id: int
    event_id: int
    door: str
    kind: str
    output: OutputKind
    output_key: str
    config: dict[str, Any]
    payload: str
    delivery_id: str
    attempts: int
    created_at: datetime
    expires_at: datetime | None
    lease_until: datetime
    lane: str  # the receiver: its messages go out in order, one at a time


def lane_of(output: OutputKind, url: str | None = None) -> str:
    """A receiver's lane: the output kind and a hash of its URL (a URL may carry a token; the
    hash is what the table and the logs may hold)."""
    if url is None:
        return output
    return f"{output}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a sender made of one delivery. ``retry``: try again in ``delay_s`` (the attempt
    counts); ``defer``: nothing was tried (broker away), due again in ``delay_s``; ``tries``:
    requests made in this claim (a relay may retry within its deadline)."""

    state: Literal["delivered", "retry", "defer", "failed"]
    error: str | None = None
    delay_s: float = 0.0
    tries: int = 1


DELIVERED = Outcome("delivered")


@dataclass(frozen=True, slots=True)
class NewRow:
    output: OutputKind
    output_key: str
    lane: str
    config: dict[str, Any]
    expires_at: datetime | None = None


def wants(webhook: WebhookOutput, message: DoorMessage) -> bool:
    """Whether a webhook's ``on`` filter takes ``message``."""
    if webhook.on == "all":
        return True
    if webhook.on == "alarm":
        return message.kind == "alarm"
    return message.kind == "decision" and message.decision == webhook.on


def planned_rows(
    message: DoorMessage, outputs: DoorOutputs, *, now: datetime, relay_deadline: timedelta
) -> list[NewRow]:
    """The rows ``message`` becomes: one per webhook that wants it, one for MQTT, and one for
    the relay when access was granted (a relay never fires for a denial or an alarm)."""
    rows = [
        NewRow("webhook", f"webhook:{i}", lane_of("webhook", hook.url), revealed(hook))
        for i, hook in enumerate(outputs.webhooks)
        if wants(hook, message)
    ]
    if outputs.mqtt is not None:
        rows.append(NewRow("mqtt", "mqtt", lane_of("mqtt"), revealed(outputs.mqtt)))
    if outputs.relay is not None and message.kind == "decision" and message.decision == "granted":
        relay = outputs.relay
        deadline = now + relay_deadline
        rows.append(
            NewRow("relay", "relay", lane_of("relay", relay.url), revealed(relay), deadline)
        )
    return rows


def short_error(error: str) -> str:
    return error[:MAX_ERROR_CHARS]


class OutboxStore:
    """The SQL of ``access_outbox`` over the gallery's database (the migration is the
    gallery's, version 5). Due times and leases are judged on the database's clock
    (``clock``): a host whose own clock runs ahead cannot take a row another host holds."""

    def __init__(self, db: Database, host_clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = DbClock(db, host_clock)

    def t(self, value: datetime) -> Any:
        return stored_time(self.db, value)

    def _time(self, value: Any) -> datetime | None:
        return None if value is None else self.db.from_db_time(value)

    # -- writing, inside the caller's transaction ----------------------------------------------

    def enqueue(
        self, tx: Tx, message: DoorMessage, outputs: DoorOutputs, *, relay_deadline: timedelta
    ) -> int:
        """Insert ``message``'s rows in ``tx`` (one INSERT per output); returns how many."""
        now = db_now(self.db, tx)
        rows = planned_rows(message, outputs, now=now, relay_deadline=relay_deadline)
        base = message.as_payload()
        params = []
        for row in rows:
            delivery_id = uuid.uuid4().hex
            payload = json.dumps(
                {**base, "delivery_id": delivery_id}, ensure_ascii=False, separators=(",", ":")
            )
            params.append(
                (
                    message.event_id,
                    message.person_id,
                    message.door,
                    message.kind,
                    row.output,
                    row.output_key,
                    row.lane,
                    json.dumps(row.config, separators=(",", ":")),
                    payload,
                    delivery_id,
                    self.t(now),
                    self.t(now),
                    None if row.expires_at is None else self.t(row.expires_at),
                )
            )
        if params:
            tx.executemany(
                "INSERT INTO access_outbox (event_id, person_id, door, kind, output, output_key, "
                "lane, config, payload, delivery_id, created_at, next_attempt_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
        return len(params)

    # -- claiming and settling ----------------------------------------------------------------

    def _delivery(self, row: Row, lease_until: datetime) -> Delivery:
        config = row[6]
        return Delivery(
            id=int(row[0]),
            event_id=int(row[1]),
            door=row[2],
            kind=row[3],
            output=row[4],
            output_key=row[5],
            config=json.loads(config) if config else {},
            payload=row[7],
            delivery_id=row[8],
            attempts=int(row[9]) + 1,
            created_at=self.db.from_db_time(row[10]),
            expires_at=self._time(row[11]),
            lease_until=lease_until,
            lane=row[13],
        )

    def claim(
        self,
        owner: str,
        now: datetime | None,
        lease: timedelta,
        limit: int,
        *,
        skip_lanes: Sequence[str] = (),
    ) -> list[Delivery]:
        """Take up to ``limit`` due rows for ``lease`` (relays first: they are the ones a
        person is waiting for), except those of ``skip_lanes`` (receivers this worker has
        enough of, is cooling down, or cannot reach, like the broker while it is away).
        The attempt is counted on claim, so a message that crashes its sender is not retried
        forever. ``now`` None: the database's clock decides (tests pass a time to look
        ahead)."""
        due = f"{_PENDING} AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
        lanes: tuple[Any, ...] = ()
        if skip_lanes:
            due += f" AND lane NOT IN ({', '.join('?' for _ in skip_lanes)})"
            lanes = tuple(skip_lanes)
        with self.db.read() as tx:  # cheap check first: a write would take SQLite's lock
            at = now or self.clock.sync(tx)
            params: tuple[Any, ...] = (self.t(at), self.t(at), *lanes)
            if not tx.execute(f"SELECT 1 FROM access_outbox WHERE {due} LIMIT 1", params):
                return []
        with self.db.write() as tx:
            at = now or self.clock.sync(tx)
            params = (self.t(at), self.t(at), *lanes)
            until = at + lease
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM access_outbox WHERE {due} "
                "ORDER BY CASE output WHEN 'relay' THEN 0 ELSE 1 END, next_attempt_at, id "
                f"LIMIT {int(limit)}{skip_locked(self.db)}",
                params,
            )
            tx.executemany(
                "UPDATE access_outbox SET attempts = attempts + 1, lease_owner = ?, "
                "lease_until = ? WHERE id = ?",
                [(owner, self.t(until), r[0]) for r in rows],
            )
        return [self._delivery(r, until) for r in rows]

    def renew(self, delivery: Delivery, owner: str, until: datetime) -> Delivery | None:
        """Extend a lease that is about to run out; None when another worker took the row
        meanwhile (then it is theirs to send)."""
        with self.db.write() as tx:
            rows = tx.execute(
                f"UPDATE access_outbox SET lease_until = ? WHERE id = ? AND lease_owner = ? "
                f"AND {_PENDING} RETURNING id",
                (self.t(until), delivery.id, owner),
            )
        if not rows:
            return None
        return replace(delivery, lease_until=until)

    def delivered(self, delivery: Delivery, owner: str, tries: int = 1) -> None:
        with self.db.write() as tx:
            tx.execute(
                "UPDATE access_outbox SET delivered_at = ?, attempts = ?, config = NULL, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (self.t(self.clock.now()), delivery.attempts - 1 + tries, delivery.id, owner),
            )

    def failed(self, delivery: Delivery, owner: str, error: str, tries: int = 1) -> None:
        """Final: not tried again."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE access_outbox SET failed_at = ?, last_error = ?, attempts = ?, "
                "config = NULL, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (
                    self.t(self.clock.now()),
                    short_error(error),
                    delivery.attempts - 1 + tries,
                    delivery.id,
                    owner,
                ),
            )

    def retry(
        self, delivery: Delivery, owner: str, at: datetime, error: str | None, *, counted: bool
    ) -> None:
        """Give the row back, due at ``at``. ``counted=False`` undoes the claim's attempt
        (the message was not tried: the broker was away, the receiver is cooling down, the
        process is stopping)."""
        undo = "" if counted else ", attempts = attempts - 1"
        with self.db.write() as tx:
            tx.execute(
                "UPDATE access_outbox SET next_attempt_at = ?, last_error = COALESCE(?, "
                f"last_error), lease_owner = NULL, lease_until = NULL{undo} "
                "WHERE id = ? AND lease_owner = ?",
                (self.t(at), None if error is None else short_error(error), delivery.id, owner),
            )

    def release(self, deliveries: Sequence[Delivery], owner: str) -> None:
        """Give back claimed rows untried, keeping their place in line (their due time), for
        this or another worker to claim again."""
        with self.db.write() as tx:
            tx.executemany(
                "UPDATE access_outbox SET lease_owner = NULL, lease_until = NULL, "
                "attempts = attempts - 1 WHERE id = ? AND lease_owner = ?",
                [(d.id, owner) for d in deliveries],
            )

    def newer_decision(self, delivery: Delivery) -> bool:
        """Whether a later decision of the same door waits for or went to the same output
        (then the retained door state is that one's to publish)."""
        with self.db.read() as tx:
            return bool(
                tx.execute(
                    "SELECT 1 FROM access_outbox WHERE door = ? AND output_key = ? "
                    "AND kind = 'decision' AND id > ? AND failed_at IS NULL LIMIT 1",
                    (delivery.door, delivery.output_key, delivery.id),
                )
            )

    # -- reading and housekeeping -------------------------------------------------------------

    def statuses(self, event_ids: Sequence[int]) -> dict[int, list[OutputStatus]]:
        found: dict[int, list[OutputStatus]] = {}
        ids = sorted({int(i) for i in event_ids})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            with self.db.read() as tx:
                rows = tx.execute(
                    "SELECT event_id, output, output_key, attempts, last_error, delivered_at, "
                    f"failed_at FROM access_outbox WHERE event_id IN ({marks}) ORDER BY id",
                    chunk,
                )
            for event_id, output, key, attempts, error, delivered_at, failed_at in rows:
                state: OutputState = (
                    "delivered" if delivered_at else "failed" if failed_at else "pending"
                )
                found.setdefault(int(event_id), []).append(
                    OutputStatus(
                        output=output,
                        state=state,
                        attempts=int(attempts),
                        last_error=error,
                        delivered_at=self._time(delivered_at),
                        key=key,
                    )
                )
        return found

    def counts(self) -> dict[str, int]:
        """Rows by state (for health, metrics and tests)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT CASE WHEN delivered_at IS NOT NULL THEN 'delivered' "
                "WHEN failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END AS state, COUNT(*) "
                "FROM access_outbox GROUP BY state"
            )
        found = {state: int(n) for state, n in rows}
        return {s: found.get(s, 0) for s in ("pending", "delivered", "failed")}

    def sweep(self, before: datetime) -> int:
        """Delete final rows settled before ``before``; returns how many. Once per cluster (a
        host that finds another one sweeping skips: facegate.cluster.store.singleton)."""
        with self.db.write() as tx:
            if not singleton(tx, self.db, "access-outbox-sweep"):
                return 0
            rows = tx.execute(
                "DELETE FROM access_outbox WHERE (delivered_at IS NOT NULL AND delivered_at < ?) "
                "OR (failed_at IS NOT NULL AND failed_at < ?) RETURNING id",
                (self.t(before), self.t(before)),
            )
        return len(rows)
