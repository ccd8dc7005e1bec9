"""The recorder: recognition events from the bus into the attendance log, through the spool.

It runs on its own thread with its own bounded subscription, so recognition never waits on
the database: a pipeline only hands the event to the bus. The recorder appends each event to
the local spool (``spool.py``, on disk when the append returns) and a drain thread moves the
spool into the database in order, with the spool's idempotency key; while the database is
unreachable the drain backs off (exponential, capped at 2 s) and the events wait on disk, so
an outage delays them and never drops them. Only an event the database keeps refusing for
another reason (``MAX_ATTEMPTS`` times) is given up, logged with ids only (never names,
images or scores). If the recorder falls far behind, the bus drops the subscription's oldest
events (counted in ``dropped``) rather than slowing recognition down.

``AttendanceHook`` runs the recorder, the webhook delivery thread and the retention sweep for
the life of the HTTP server (``app.state.hooks``); routes reach the log through
``hook.attendance``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from facegate.attendance.service import Attendance
from facegate.attendance.spool import Spool, Spooled
from facegate.config import Settings
from facegate.errors import DatabaseUnavailable
from facegate.events import EventBus, Subscription
from facegate.gallery.db import Backoff
from facegate.services import Services

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
# An event the database refuses this many times for a reason other than being unreachable
# (a bug, a constraint) is given up, so it cannot hold up every event behind it.
MAX_ATTEMPTS = 100
SPOOL_FILE = "spool.db"


def spool_for(settings: Settings) -> Spool:
    """This host's spool: ``<data_dir>/spool.db``, bounded by ``spool_max_events``."""
    return Spool(
        settings.storage.data_dir / SPOOL_FILE, max_events=settings.attendance.spool_max_events
    )


class Recorder:
    """Subscribes to ``bus`` and logs ``confirmed`` (and, if enabled, ``unknown``) events.

    ``checkin`` events are not logged here: the check-in endpoint logs them itself (it answers
    with the logged event) and publishes them only for live viewers.
    """

    def __init__(
        self,
        attendance: Attendance,
        bus: EventBus,
        *,
        spool: Spool | None = None,
        queue_size: int = 1024,
    ) -> None:
        self.attendance = attendance
        self.spool = spool if spool is not None else spool_for(attendance.settings)
        self._own_spool = spool is None
        self.subscription: Subscription = bus.subscribe(queue_size)
        self.recorded = 0
        self.suppressed = 0
        self.duplicates = 0
        self.failed = 0  # events given up (MAX_ATTEMPTS)
        self.retries = 0  # failed attempts, each retried later
        self.fenced = 0  # refused: the camera's lease epoch had moved on (facegate.cluster)
        self._stop = threading.Event()
        self._stop_drain = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attendance-recorder", daemon=True)
        self._drainer = threading.Thread(
            target=self._drain_loop, name="attendance-drain", daemon=True
        )
        self._backoff = Backoff(0.1, 2.0)
        self._last_purge = 0.0
        self._outage = False

    def start(self) -> None:
        self._thread.start()
        self._drainer.start()  # also drains what a previous run left in the spool

    def stop(self) -> None:
        """Spool what is already queued, drain what the database takes now, then stop (the
        rest stays in the spool for the next start)."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.subscription.close()
        self._stop_drain.set()
        self._wake.set()
        self._drainer.join(timeout=30)
        if self._own_spool:
            self.spool.close()

    @property
    def dropped(self) -> int:
        return self.subscription.dropped

    def _run(self) -> None:
        while True:
            event = self.subscription.get(timeout=0.2)
            if event is None:
                if self._stop.is_set():
                    return
                self._maybe_purge()
                continue
            if event.kind == "checkin":
                continue
            kept = self.attendance.spoolable(event)
            if kept is None:
                continue
            try:
                self.spool.append(kept)
            except Exception as exc:  # the disk itself failed: nothing else can keep it
                self.failed += 1
                log.error(
                    "attendance: event of person %s on track %s not spooled (%s)",
                    event.person_id,
                    event.track_id,
                    type(exc).__name__,
                )
                continue
            self._wake.set()

    def _drain_loop(self) -> None:
        while True:
            try:
                batch = self.spool.peek()
            except Exception:
                log.exception("attendance spool unreadable")
                batch = []
            if not batch:
                if self._stop_drain.is_set():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for item in batch:
                if not self._drain_one(item):
                    if self._stop_drain.is_set():
                        return  # the database is away: the rest waits on disk
                    self._stop_drain.wait(self._backoff.failed())
                    break

    def _drain_one(self, item: Spooled) -> bool:
        """Write one spooled event; False when it must be tried again later."""
        event = item.event
        try:
            outcome = self.attendance.record(event, key=item.key)
        except Exception as exc:
            self.retries += 1
            unavailable = isinstance(exc, DatabaseUnavailable)
            if not self._outage:
                log.warning(
                    "attendance: event of person %s on track %s waits in the spool (%s)",
                    event.person_id,
                    event.track_id,
                    type(exc).__name__,
                )
            self._outage = True
            if unavailable or item.attempts + 1 < MAX_ATTEMPTS:
                if not unavailable:
                    self.spool.attempted(item.seq)
                return False
            self.failed += 1
            log.error(
                "attendance: event of person %s on track %s not logged after %d attempts (%s)",
                event.person_id,
                event.track_id,
                MAX_ATTEMPTS,
                type(exc).__name__,
            )
            self.spool.done(item.seq)
            return True
        if self._outage:
            log.info("attendance: the database takes events again; draining the spool")
            self._outage = False
        self._backoff.reset()
        self.spool.done(item.seq)
        if outcome.event is not None:
            self.recorded += 1
        elif outcome.reason == "cooldown":
            self.suppressed += 1
        elif outcome.reason == "duplicate":
            self.duplicates += 1
        elif outcome.reason == "fenced":
            self.fenced += 1
            log.info("attendance: event on camera %s refused: stale lease epoch", event.stream)
        return True

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        try:
            snaps, unknown = self.attendance.purge()
            if snaps or unknown:
                log.info(
                    "attendance retention: %d snapshot(s), %d unknown event(s)", snaps, unknown
                )
        except Exception as exc:
            log.warning(
                "attendance retention sweep failed (%s); next in an hour", type(exc).__name__
            )


class AttendanceHook:
    """The API lifespan hook: the log, its recorder and its webhook thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.attendance: Attendance | None = None
        self.recorder: Recorder | None = None

    async def start(self, services: Services) -> None:
        attendance = Attendance(self.settings, services.gallery.store.db)
        attendance.start()
        self.attendance = attendance
        if self.settings.attendance.enabled:
            self.recorder = Recorder(attendance, services.events)
            self.recorder.start()

    async def stop(self) -> None:
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.stop)
            self.recorder = None
        if self.attendance is not None:
            await asyncio.to_thread(self.attendance.stop)
