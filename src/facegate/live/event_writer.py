"""The writer of the live event log: recognition events from the bus into ``live_events``.

Like the attendance recorder it runs on its own thread with its own bounded subscription of
the event bus, so a pipeline only hands an event to the bus and never waits on the database.
Events that queued up meanwhile are appended in one transaction (one NOTIFY for all).

These rows are a view, not a record (attendance and door events are the record): while the
database is unreachable the writer retries the batch in hand with back-off (0.1 s doubling to
2 s), new events wait in its subscription, and once that holds ``queue_size`` events the
oldest are dropped (counted in ``dropped``). So an outage first **delays** live events and,
past about a thousand of them, **drops** the oldest; recognition never stalls. A batch the
database refuses for another reason is given up after ``MAX_ATTEMPTS`` (logged with counts
only, never names or scores).

The writer also prunes the log to ``keep_s`` every ``PRUNE_EVERY_S``, once per cluster.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from facegate.errors import DatabaseUnavailable
from facegate.events import EventBus, RecognitionEvent
from facegate.gallery.db import Backoff
from facegate.live.event_log import EventLog

log = logging.getLogger(__name__)

BATCH = 100
MAX_ATTEMPTS = 5
PRUNE_EVERY_S = 60.0


class EventWriter:
    """Subscribes to ``bus`` and appends every event to ``event_log`` as published by ``node``;
    ``on_written`` runs after each committed batch (wakes this process's feed at once)."""

    def __init__(
        self,
        event_log: EventLog,
        bus: EventBus,
        node: str | None,
        *,
        keep_s: float,
        on_written: Callable[[], None] = lambda: None,
        queue_size: int = 1024,
    ) -> None:
        self.event_log = event_log
        self.node = node
        self.keep_s = keep_s
        self.on_written = on_written
        self.subscription = bus.subscribe(queue_size)
        self.written = 0
        self.failed = 0  # events given up (refused MAX_ATTEMPTS times)
        self._stop = threading.Event()
        self._backoff = Backoff(0.1, 2.0)
        self._last_prune = 0.0
        self._thread = threading.Thread(target=self._run, name="live-events-writer", daemon=True)

    @property
    def dropped(self) -> int:
        """Events the bus dropped because the writer fell behind (a long outage)."""
        return self.subscription.dropped

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued if the database takes it now, then stop."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.subscription.close()

    def _run(self) -> None:
        while True:
            first = self.subscription.get(timeout=0.5)
            if first is not None:
                batch = [first]
                while len(batch) < BATCH and (more := self.subscription.get(0)) is not None:
                    batch.append(more)
                self._write(batch)
            elif self._stop.is_set():
                return
            self._maybe_prune()

    def _write(self, batch: list[RecognitionEvent]) -> None:
        """Append ``batch``, retrying while the database is away; returns when it is written,
        given up, or the writer is stopping."""
        attempts = 0
        while True:
            try:
                self.event_log.append(batch, self.node)
            except Exception as exc:
                attempts += 1
                unavailable = isinstance(exc, DatabaseUnavailable)
                if attempts == 1:
                    log.warning(
                        "live events: %d event(s) wait for the database (%s)",
                        len(batch),
                        type(exc).__name__,
                    )
                if (not unavailable and attempts >= MAX_ATTEMPTS) or self._stop.is_set():
                    self.failed += len(batch)
                    log.error("live events: %d event(s) not logged", len(batch))
                    return
                self._stop.wait(self._backoff.failed())
                continue
            self._backoff.reset()
            self.written += len(batch)
            self.on_written()
            return

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if self._last_prune and now - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now
        try:
            gone = self.event_log.prune(self.keep_s)
        except Exception as exc:
            log.warning("live events: prune failed (%s); next in a minute", type(exc).__name__)
            return
        if gone:
            log.debug("live events: %d row(s) past retention deleted", gone)
