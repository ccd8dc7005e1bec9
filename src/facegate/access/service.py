"""``AccessService``: door decisions for one process, and ``AccessHook`` that runs it in
``facegate serve``.

Door watchers (inference threads) ``submit`` attempts to a bounded queue and never wait; one
decision thread takes them, decides and records each in one write transaction with its
outputs' messages (``DoorEvents.decide``), then wakes the outputs' dispatcher. A failed write
is retried a few times, then given up and logged with ids only (never names or images); a
full queue drops the attempt and counts it (``dropped``), so recognition never slows down for
the database.

With ``--workers N`` each worker runs its own service: a server camera is owned by one worker
and a TCP stream lives in the worker that accepted it, so each face is decided once; the
database serialises what must be (anti-passback) across workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facegate.access.cameras import DoorCameras
from facegate.access.directory import DoorDirectory
from facegate.access.events import Attempt, DoorEvents
from facegate.access.outputs import Dispatcher, dispatcher_for
from facegate.access.store import AccessStore
from facegate.access.watcher import DoorWatcher
from facegate.config import Settings
from facegate.gallery.db import Database, utcnow, with_retries
from facegate.observers import PromptSink, TrackObserver
from facegate.services import Services

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class AccessService:
    """The store, the door directory, the decision thread and the outputs' dispatcher."""

    def __init__(
        self, settings: Settings, db: Database, dispatcher: Dispatcher | None = None
    ) -> None:
        self.settings = settings
        self.store = AccessStore(db)
        self.timezone = ZoneInfo(settings.access_zone)
        self.events = DoorEvents(self.store, self.timezone, snapshots=settings.access.snapshots)
        self.directory = DoorDirectory(self.store, refresh_s=settings.access.refresh_s)
        self.dispatcher = dispatcher if dispatcher is not None else dispatcher_for(settings, db)
        self._queue: queue.Queue[Attempt] = queue.Queue(maxsize=settings.access.queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-decisions", daemon=True)
        self._last_purge = 0.0
        self.decided = 0
        self.failed = 0
        self.dropped = 0

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.directory.start()
        self.dispatcher.start()
        self._thread.start()

    def stop(self) -> None:
        """Decide what is already queued, then stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.directory.stop()
        self.dispatcher.stop()

    # -- the seam for door watchers -----------------------------------------------------------

    def watcher_factory(self, stream: str, prompt: PromptSink | None) -> TrackObserver:
        """The ``facegate.observers`` factory: a door watcher for every stream (it does
        nothing while the stream watches no door; doors can be added at run time)."""
        return DoorWatcher(
            stream,
            self.directory,
            self.submit,
            prompt=prompt,
            liveness_timeout_s=self.settings.access.liveness_timeout_s,
            unconfirmed_after_s=self.settings.access.unconfirmed_after_s,
            unconfirmed_min_px=self.settings.quality.min_face_px,
            snapshots=self.settings.access.snapshots,
            settings=self.settings,
        )

    def submit(self, attempt: Attempt) -> bool:
        """Queue an attempt (any thread, never blocks); False when the queue was full."""
        try:
            self._queue.put_nowait(attempt)
            return True
        except queue.Full:
            self.dropped += 1
            log.warning(
                "access: decision queue full, attempt on track %s dropped", attempt.track_id
            )
            return False

    # -- the decision thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                attempt = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                self._maybe_purge()
                continue
            self._decide(attempt)

    def _decide(self, attempt: Attempt) -> None:
        try:
            outcome = with_retries(lambda: self.events.decide(attempt, self.dispatcher))
        except Exception as exc:
            self.failed += 1
            log.error(
                "access: decision at door camera %s on track %s not recorded (%s)",
                attempt.camera,
                attempt.track_id,
                type(exc).__name__,
            )
            return
        if outcome is not None:
            self.decided += 1
            self.dispatcher.wake()

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        days = self.settings.access.snapshot_retention_days
        try:
            erased = self.events.purge_snapshots(utcnow() - timedelta(days=days))
            if erased:
                log.info("access retention: %d snapshot(s) erased", erased)
        except Exception as exc:
            log.warning("access retention sweep failed (%s); next in an hour", type(exc).__name__)


class AccessHook:
    """The API lifespan hook (``app.state.access_hook``): an ``AccessService`` for the life of
    the server, its door watchers registered on ``services.observers``, and the server
    cameras at doors kept running (``live``: the process's ``LiveHook``, set by
    ``create_app``; its cameras start after this hook, so they are looked up as they come)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.access: AccessService | None = None
        self.live: Any = None  # facegate.live.hook.LiveHook (not imported: layers flow one way)
        self.door_cameras: DoorCameras | None = None
        self._unregister: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, services: Services) -> None:
        service = AccessService(self.settings, services.gallery.store.db)
        await asyncio.to_thread(service.start)
        self.access = service
        if self.settings.access.enabled:
            self._unregister = services.observers.register(service.watcher_factory)
            self.door_cameras = DoorCameras(service.directory, self._owned_cameras)
            self._task = asyncio.get_running_loop().create_task(self._keep_cameras())

    def _owned_cameras(self) -> dict[str, Any]:
        manager = getattr(self.live, "cameras", None)
        owned = getattr(manager, "owned", None) or {}
        return {name: o.camera for name, o in owned.items()}

    async def _keep_cameras(self) -> None:
        while True:
            if self.door_cameras is not None:
                try:
                    self.door_cameras.sync()
                except Exception:
                    log.exception("access: keeping door cameras running failed")
            await asyncio.sleep(self.settings.access.refresh_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.door_cameras is not None:
            with contextlib.suppress(Exception):  # the live hook stopped its cameras already
                self.door_cameras.release_all()
        if self._unregister is not None:
            self._unregister()
            self._unregister = None
        if self.access is not None:
            await asyncio.to_thread(self.access.stop)
