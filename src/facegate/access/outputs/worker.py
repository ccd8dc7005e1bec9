"""``OutboxDispatcher``: the process's door-output delivery (the ``Dispatcher`` of the seam).

Recognition only inserts outbox rows (``enqueue``, inside the door event's transaction) and
calls ``wake()`` after the commit. Everything else runs on the dispatcher's threads:

- the **claimer** claims due rows with a lease (at once on ``wake()``, otherwise every
  ``access_outbox_poll_s`` for retries and rows another process left) and hands them to lanes,
  leaving unclaimed the rows of a lane that has enough queued, is cooling down or cannot be
  reached (the broker away), so other workers and other receivers are not held up by it;
- a **lane** is one receiver (a webhook URL, a relay URL, the MQTT broker): its messages go out
  in order, one at a time, on a pool of ``access_output_threads`` threads shared round robin.
  A slow or dead receiver holds at most one thread at a time; after a failure its lane
  cools down for the retry delay and its other messages wait in the outbox instead of each
  waiting for their own timeout;
- relays are claimed first and are settled by their one call (``relay.send_relay``).

Logs name rows, events and doors, never URLs, headers, secrets or payloads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx

from facegate.access.messages import DoorMessage
from facegate.access.outputs import DoorOutputs, OutputStatus
from facegate.access.outputs.mqtt import MqttLink, send_mqtt
from facegate.access.outputs.outbox import Delivery, OutboxStore, Outcome, lane_of
from facegate.access.outputs.relay import send_relay
from facegate.access.outputs.webhook import send_webhook
from facegate.config import Settings
from facegate.delivery import quiet_http_logs
from facegate.errors import DatabaseUnavailable
from facegate.gallery.db import Database, Tx, utcnow

log = logging.getLogger(__name__)
CLAIM_BATCH = 50
LANE_DEPTH = 5  # a receiver's messages claimed ahead of its sends; more wait in the outbox
SWEEP_EVERY_S = 600.0


class OutboxDispatcher:
    """Enqueue into ``access_outbox``; deliver from it on background threads."""

    def __init__(
        self, settings: Settings, db: Database, host_clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.outbox = OutboxStore(db, host_clock)
        self.clock = self.outbox.clock  # the database's clock: every lease and due time
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.relay_deadline = timedelta(seconds=settings.access.relay_deadline_s)
        self.timeout_s = settings.access.output_timeout_s
        self.max_in_flight = settings.access.output_threads * 25
        # Long enough to cover a lane's queue; renewed before a send when it runs short.
        self.lease = timedelta(seconds=max(60.0, 4 * self.timeout_s))
        self.mqtt: MqttLink | None = None
        if settings.access.mqtt.url:
            password = settings.access.mqtt.password
            self.mqtt = MqttLink(
                settings.access.mqtt.url,
                username=settings.access.mqtt.username,
                password=None if password is None else password.get_secret_value(),
                client_id=settings.access.mqtt.client_id,
                keepalive_s=settings.access.mqtt.keepalive_s,
                reconnect_max_s=settings.access.mqtt.reconnect_max_s,
            )
        self.delivered = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._lanes: dict[str, deque[Delivery]] = {}
        self._cooling: dict[str, float] = {}  # lane -> time.monotonic() it may send again
        self._in_flight = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._http: httpx.Client | None = None

    # -- the seam -----------------------------------------------------------------------------

    def enqueue(self, tx: Tx, message: DoorMessage, outputs: DoorOutputs) -> None:
        if not outputs.empty:
            self.outbox.enqueue(tx, message, outputs, relay_deadline=self.relay_deadline)

    def wake(self) -> None:
        self._wake.set()

    def statuses(self, event_ids: Sequence[int]) -> dict[int, list[OutputStatus]]:
        return self.outbox.statuses(event_ids)

    def start(self) -> None:
        if self._thread is not None:
            return
        quiet_http_logs()
        self._stop.clear()
        self._http = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        self._pool = ThreadPoolExecutor(
            self.settings.access.output_threads, thread_name_prefix="door-outputs"
        )
        if self.mqtt is not None:
            self.mqtt.start()
        self._thread = threading.Thread(target=self._run, name="door-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming, give queued rows back (due at once, for the next process), let the
        sends in progress finish, then disconnect."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self._thread = None
        with self._lock:
            queued = [d for lane in self._lanes.values() for d in lane]
            for lane in self._lanes.values():
                lane.clear()
            self._in_flight -= len(queued)
        if queued:
            self._give_back(queued)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.mqtt is not None:
            self.mqtt.stop()
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- claiming -----------------------------------------------------------------------------

    def _run(self) -> None:
        swept = 0.0
        away = False
        while not self._stop.is_set():
            self._wake.clear()  # a wake() during the claim below keeps the next wait short
            try:
                claimed = self.run_once()
                away = False
                if time.monotonic() - swept > SWEEP_EVERY_S:
                    swept = time.monotonic()
                    keep = timedelta(days=self.settings.access.outbox_retention_days)
                    self.outbox.sweep(self.clock.now() - keep)
            except DatabaseUnavailable as exc:  # logged once per outage
                if not away:
                    log.warning("door output outbox unavailable (%s); retrying", exc)
                away, claimed = True, 0
            except Exception:
                log.exception("door output outbox unavailable; retrying")
                claimed = 0
            if not claimed:
                self._wake.wait(self.settings.access.outbox_poll_s)

    def run_once(self) -> int:
        """Claim what is due and fits in the lanes; returns how many rows were claimed."""
        with self._lock:
            room = min(CLAIM_BATCH, self.max_in_flight - self._in_flight)
            busy = {name for name, queue in self._lanes.items() if len(queue) >= LANE_DEPTH}
            now = time.monotonic()
            for name, until in list(self._cooling.items()):
                if until > now:
                    busy.add(name)  # failed just now: its rows wait in the outbox
                else:
                    del self._cooling[name]
        if room <= 0:
            return 0
        if self.mqtt is not None and not self.mqtt.connected.is_set():
            busy.add(lane_of("mqtt"))  # broker away: its rows wait, unclaimed, until it is back
        batch = self.outbox.claim(self.owner, None, self.lease, room, skip_lanes=sorted(busy))
        extra = []
        with self._lock:
            depth = {name: len(queue) for name, queue in self._lanes.items()}
        for delivery in batch:
            depth[delivery.lane] = depth.get(delivery.lane, 0) + 1
            if depth[delivery.lane] > LANE_DEPTH + 1:  # more than the lane needs soon
                extra.append(delivery)
            else:
                self._submit(delivery)
        if extra:
            self.outbox.release(extra, self.owner)
        return len(batch) - len(extra)

    def _submit(self, delivery: Delivery) -> None:
        with self._lock:
            self._in_flight += 1
            lane = self._lanes.get(delivery.lane)
            if lane is not None:  # the lane is being drained: join its queue
                lane.append(delivery)
                return
            self._lanes[delivery.lane] = deque([delivery])
        assert self._pool is not None
        self._pool.submit(self._drain, delivery.lane)

    def _drain(self, name: str) -> None:
        """Send the lane's next message, then queue the lane again behind the other lanes
        waiting for a thread (round robin: a receiver with a backlog never keeps a thread)."""
        with self._lock:
            lane = self._lanes.get(name)
            if not lane:
                self._lanes.pop(name, None)
                return
            delivery = lane.popleft()
        try:
            self._handle(delivery)
        except Exception:
            log.exception("door output row %d (event %d)", delivery.id, delivery.event_id)
        finally:
            with self._lock:
                self._in_flight -= 1
                more = bool(self._lanes.get(name))
                if not more:
                    self._lanes.pop(name, None)
            if more and self._pool is not None:
                # stopping (pool shut down): stop() gives the queued rows back
                with contextlib.suppress(RuntimeError):
                    self._pool.submit(self._drain, name)
            self._wake.set()  # room again for the claimer

    # -- one delivery -------------------------------------------------------------------------

    def _handle(self, delivery: Delivery) -> None:
        if self._stop.is_set():
            self._give_back([delivery])
            return
        with self._lock:
            cool = self._cooling.get(delivery.lane, 0.0) - time.monotonic()
        if cool > 0:  # the receiver failed just now: wait in the outbox, untried
            self.outbox.retry(
                delivery,
                self.owner,
                self.clock.now() + timedelta(seconds=cool),
                None,
                counted=False,
            )
            return
        if (delivery.lease_until - self.clock.now()).total_seconds() < self.timeout_s + 10:
            renewed = self.outbox.renew(delivery, self.owner, self.clock.now() + self.lease)
            if renewed is None:
                return  # another worker took it over: it is theirs to send
            delivery = renewed
        self._settle(delivery, self._send(delivery))

    def _send(self, delivery: Delivery) -> Outcome:
        assert self._http is not None
        s = self.settings
        if delivery.output == "relay":
            return send_relay(self._http, delivery, now=self.clock.now)
        if delivery.output == "mqtt":
            newer = delivery.kind == "decision" and self.outbox.newer_decision(delivery)
            return send_mqtt(
                self.mqtt,
                delivery,
                newer_decision=newer,
                timeout_s=self.timeout_s,
                max_attempts=s.access.output_max_attempts,
                backoff_base_s=s.access.output_backoff_s,
            )
        return send_webhook(
            self._http,
            delivery,
            max_attempts=s.access.output_max_attempts,
            backoff_base_s=s.access.output_backoff_s,
        )

    def _settle(self, delivery: Delivery, outcome: Outcome) -> None:
        if outcome.state == "delivered":
            self.outbox.delivered(delivery, self.owner, outcome.tries)
            self.delivered += 1
            return
        error = outcome.error or "failed"
        at = self.clock.now() + timedelta(seconds=outcome.delay_s)
        if outcome.state == "defer":
            self.outbox.retry(delivery, self.owner, at, error, counted=False)
            return
        self.failures += 1
        if outcome.state == "retry":
            with self._lock:
                self._cooling[delivery.lane] = time.monotonic() + outcome.delay_s
            self.outbox.retry(delivery, self.owner, at, error, counted=True)
            log.info(
                "door %r %s output (row %d, event %d) will retry in %.1f s: %s",
                delivery.door,
                delivery.output,
                delivery.id,
                delivery.event_id,
                outcome.delay_s,
                error,
            )
            return
        self.outbox.failed(delivery, self.owner, error, outcome.tries)
        log.warning(
            "door %r %s output (row %d, event %d) failed after %d attempt(s): %s",
            delivery.door,
            delivery.output,
            delivery.id,
            delivery.event_id,
            delivery.attempts - 1 + outcome.tries,
            error,
        )

    def _give_back(self, deliveries: list[Delivery]) -> None:
        try:
            self.outbox.release(deliveries, self.owner)
        except Exception:  # the lease runs out on its own: the rows are claimed again later
            log.exception("could not release %d door output rows", len(deliveries))
