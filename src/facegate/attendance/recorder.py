"""The recorder: recognition events from the bus into the attendance log.

It runs on its own thread with its own bounded subscription, so recognition never waits on
the database: a pipeline only hands the event to the bus, and if the recorder falls far
behind, the bus drops the subscription's oldest events (counted in ``dropped``) rather than
slowing anything down. A failed write is retried a few times, then given up and logged with
ids only (never names, images or scores).

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
from facegate.config import Settings
from facegate.events import EventBus, RecognitionEvent, Subscription
from facegate.gallery.db import with_retries
from facegate.services import Services

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class Recorder:
    """Subscribes to ``bus`` and logs ``confirmed`` (and, if enabled, ``unknown``) events.

    ``checkin`` events are not logged here: the check-in endpoint logs them itself (it answers
    with the logged event) and publishes them only for live viewers.
    """

    def __init__(self, attendance: Attendance, bus: EventBus, *, queue_size: int = 1024) -> None:
        self.attendance = attendance
        self.subscription: Subscription = bus.subscribe(queue_size)
        self.recorded = 0
        self.suppressed = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attendance-recorder", daemon=True)
        self._last_purge = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Log what is already queued, then stop."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.subscription.close()

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
            self._write(event)

    def _write(self, event: RecognitionEvent) -> None:
        try:
            outcome = with_retries(lambda: self.attendance.record(event))
        except Exception as exc:
            self.failed += 1
            log.error(
                "attendance: event of person %s on track %s not logged (%s)",
                event.person_id,
                event.track_id,
                type(exc).__name__,
            )
            return
        if outcome.event is not None:
            self.recorded += 1
        elif outcome.reason == "cooldown":
            self.suppressed += 1

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
