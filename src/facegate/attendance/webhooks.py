"""Webhooks for attendance events: a durable outbox and one delivery thread per process.

Why an outbox: the webhook row is committed in the same transaction as its event
(``AttendanceStore.record``), so a crash or restart never loses an undelivered webhook, and
recognition never waits on a receiver: it only commits a row. The delivery thread claims due
rows (a claim pushes ``next_attempt_at`` forward by a lease, so two worker processes never send
the same row at once and a process killed mid-send lets the lease expire and the row be sent
again), POSTs them, deletes delivered rows and reschedules failures with exponential backoff
until ``max_attempts``, when the row is kept with ``gave_up_at`` for inspection.

Delivery is at least once: receivers should de-duplicate on ``webhook-id``
(``attendance-<event id>``, the same on every retry and from every host) or ``event.id``
inside the signed body. Headers follow Standard Webhooks (``facegate.delivery``):
``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``; the older
``X-Facegate-Signature`` (body only) is still sent and deprecated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from facegate.attendance.store import AttendanceStore
from facegate.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DbClock,
    backoff_s,
    post_signed,
    quiet_http_logs,
    sign,
    skip_locked,
    verify,
)
from facegate.errors import DatabaseUnavailable
from facegate.gallery.db import utcnow

log = logging.getLogger(__name__)

# The signature, headers and backoff are shared with the door outputs (facegate.delivery);
# re-exported here for the callers that know them from this module.
__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Delivery",
    "Outbox",
    "WebhookWorker",
    "backoff_s",
    "sign",
    "verify",
]


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    url: str
    body: str
    attempts: int  # including the one now claimed


class Outbox:
    """The ``attendance_webhooks`` table. Due times and leases are judged on the database's
    clock (``clock``), so hosts with skewed clocks never both hold one row."""

    def __init__(self, store: AttendanceStore, host_clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.db = store.db
        self.clock = DbClock(self.db, host_clock)

    def claim(self, now: datetime | None, lease: timedelta, limit: int = 20) -> list[Delivery]:
        """Take up to ``limit`` due rows for ``lease`` (attempts counted on claim). ``now``
        None: the database's clock decides (tests pass a time to look ahead)."""
        lock = skip_locked(self.db)
        with self.db.read() as tx:  # cheap check first: a write would take SQLite's lock
            due = tx.execute(
                "SELECT 1 FROM attendance_webhooks WHERE gave_up_at IS NULL "
                "AND next_attempt_at <= ? LIMIT 1",
                (self.store.t(now or self.clock.sync(tx)),),
            )
        if not due:
            return []
        with self.db.write() as tx:
            if now is None:
                now = self.clock.sync(tx)
            rows = tx.execute(
                "SELECT id, event_id, url, body, attempts FROM attendance_webhooks "
                "WHERE gave_up_at IS NULL AND next_attempt_at <= ? "
                f"ORDER BY next_attempt_at, id LIMIT {int(limit)}{lock}",
                (self.store.t(now),),
            )
            tx.executemany(
                "UPDATE attendance_webhooks SET attempts = attempts + 1, next_attempt_at = ? "
                "WHERE id = ?",
                [(self.store.t(now + lease), r[0]) for r in rows],
            )
        return [Delivery(int(r[0]), int(r[1]), r[2], r[3], int(r[4]) + 1) for r in rows]

    def release(self, deliveries: list[Delivery]) -> None:
        """Give back claimed rows that were not sent (stopping): due now, attempt uncounted."""
        with self.db.write() as tx:
            tx.executemany(
                "UPDATE attendance_webhooks SET attempts = attempts - 1, next_attempt_at = ? "
                "WHERE id = ?",
                [(self.store.t(self.clock.now()), d.id) for d in deliveries],
            )

    def delivered(self, delivery_id: int) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM attendance_webhooks WHERE id = ?", (delivery_id,))

    def failed(self, delivery: Delivery, error: str, retry_at: datetime | None) -> None:
        """Reschedule, or give up when ``retry_at`` is None."""
        with self.db.write() as tx:
            if retry_at is None:
                tx.execute(
                    "UPDATE attendance_webhooks SET last_error = ?, gave_up_at = ? WHERE id = ?",
                    (error[:200], self.store.t(self.clock.now()), delivery.id),
                )
            else:
                tx.execute(
                    "UPDATE attendance_webhooks SET last_error = ?, next_attempt_at = ? "
                    "WHERE id = ?",
                    (error[:200], self.store.t(retry_at), delivery.id),
                )

    def counts(self) -> dict[str, int]:
        """Pending and given-up rows (for health and tests)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT gave_up_at IS NULL, COUNT(*) FROM attendance_webhooks "
                "GROUP BY gave_up_at IS NULL"
            )
        found = {bool(pending): int(n) for pending, n in rows}
        return {"pending": found.get(True, 0), "given_up": found.get(False, 0)}


class WebhookWorker:
    """The delivery thread. ``wake()`` after committing a webhook sends it at once; otherwise
    the outbox is polled every ``poll_s`` (retries, rows left by another process)."""

    def __init__(
        self,
        outbox: Outbox,
        secret: str | None,
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 8,
        backoff_base_s: float = 2.0,
        poll_s: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.secret = secret
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.poll_s = poll_s
        self.delivered = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.secret is None:
            log.warning("attendance webhooks are configured without a secret: unsigned")
        self._thread = threading.Thread(target=self._run, name="attendance-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)

    def _run(self) -> None:
        quiet_http_logs()
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            away = False
            while not self._stop.is_set():
                try:
                    sent = self.run_once(client)
                    away = False
                except DatabaseUnavailable as exc:  # logged once per outage
                    if not away:
                        log.warning("attendance webhook outbox unavailable (%s); retrying", exc)
                    away, sent = True, 0
                except Exception:
                    log.exception("attendance webhook outbox unavailable; retrying")
                    sent = 0
                if not sent:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()

    def run_once(self, client: httpx.Client) -> int:
        """Send every due webhook once; returns how many were attempted."""
        lease = timedelta(seconds=self.timeout_s + 30)
        batch = self.outbox.claim(None, lease)
        for i, delivery in enumerate(batch):
            if self._stop.is_set():
                self.outbox.release(batch[i:])  # due again at once, for the next process
                break
            self._send(client, delivery)
        return len(batch)

    def _send(self, client: httpx.Client, delivery: Delivery) -> None:
        error = post_signed(
            client,
            delivery.url,
            delivery.body.encode(),
            self.secret,
            str(delivery.id),
            webhook_id=f"attendance-{delivery.event_id}",
        )
        if error is None:
            self.outbox.delivered(delivery.id)
            self.delivered += 1
            return
        self.failures += 1
        if delivery.attempts >= self.max_attempts:
            log.warning(
                "webhook %d (event %d) given up after %d attempts: %s",
                delivery.id,
                delivery.event_id,
                delivery.attempts,
                error,
            )
            self.outbox.failed(delivery, error, None)
            return
        delay = backoff_s(delivery.attempts, self.backoff_base_s)
        self.outbox.failed(delivery, error, self.outbox.clock.now() + timedelta(seconds=delay))
