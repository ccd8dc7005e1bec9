"""The live event feed: one reader of the event log per process, shared by every listener.

``/ws/events`` sockets do not each query the database: one feed thread per process reads the
rows above the highest id it has handed out and gives them to every listener. It reads when
woken (PostgreSQL: LISTEN ``facegate_events`` on a connection of its own, through
``PostgresDatabase.listen``, the gallery's mechanism; in-process: by this process's writer
after each commit) and at least every ``poll_s`` as a backstop (a NOTIFY sent while the
LISTEN connection was being reopened is never delivered). SQLite serves one host, possibly
several workers: a sibling worker's events are found by the poll. While nobody listens the
feed reads nothing.

A listener resuming from a cursor (``listener.events(after=N)``) gets exactly the rows above
N, in id order, none twice: it joins the feed first (``listening()``: ``/ws/events`` does so
before accepting the socket, so an event published once the client is connected is never
missed), then reads what it missed, then takes the feed's rows above the last id it sent.
Joining records the feed's position at that moment, so every row above it reaches the
listener from the feed, and the replay covers everything from N up to at least that
position; the overlap is skipped by id. A listener whose queue overflows
(a client too slow to read) is ended with ``FellBehind``, naming its cursor: it reconnects
with ``after`` and replays from the table instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from facegate.gallery.db import Backoff
from facegate.live.event_log import EventLog, LoggedEvent

log = logging.getLogger(__name__)

READ_BATCH = 500
LISTENER_QUEUE = 1000  # batches of rows a listener may hold before it counts as fallen behind
REPLAY_MAX = 1000  # rows a resuming listener is sent at most (the newest ones)

Listen = Callable[[Callable[[], None], threading.Event], None]


class FellBehind(Exception):
    """A listener did not take its events fast enough; ``cursor`` is the last id it was sent."""

    def __init__(self, cursor: int) -> None:
        super().__init__(f"fell behind after event {cursor}")
        self.cursor = cursor


class Listener:
    """One socket's place in the feed: row batches handed over from the feed thread onto the
    socket's loop, from ``start`` (the feed's position when it joined) on."""

    def __init__(self, event_log: EventLog, loop: asyncio.AbstractEventLoop) -> None:
        self.event_log = event_log
        self.loop = loop
        self.start = 0
        self.queue: asyncio.Queue[list[LoggedEvent]] = asyncio.Queue(LISTENER_QUEUE)
        self.overflowed = asyncio.Event()

    def offer(self, rows: list[LoggedEvent]) -> None:
        """From the feed thread: hand ``rows`` over without waiting."""
        with contextlib.suppress(RuntimeError):  # the socket's loop is closed: it is gone
            self.loop.call_soon_threadsafe(self._put, rows)

    def _put(self, rows: list[LoggedEvent]) -> None:
        try:
            self.queue.put_nowait(rows)
        except asyncio.QueueFull:
            self.overflowed.set()

    async def events(self, after: int | None = None) -> AsyncGenerator[LoggedEvent, None]:
        """Every event since joining, or, with ``after``, first the events above that id (at
        most the newest ``REPLAY_MAX``); in id order, none twice, until the caller stops.
        Raises ``DatabaseUnavailable`` when the missed events cannot be read, ``FellBehind``
        when the caller does not keep up."""
        sent = self.start
        if after is not None:
            replay = await asyncio.to_thread(self.event_log.replay, after, REPLAY_MAX)
            # A cursor ahead of the log (a database restored from a backup) counts as the
            # log's position when the listener joined: it then gets what comes next instead
            # of nothing (rows logged since joining are below the cursor but new to it).
            sent = after if after <= replay.newest else self.start
            for row in replay.events:
                yield row
                sent = row.id
        overflowed = asyncio.ensure_future(self.overflowed.wait())
        getter: asyncio.Future[list[LoggedEvent]] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({getter, overflowed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    raise FellBehind(sent)
                for row in getter.result():
                    if row.id > sent:
                        yield row
                        sent = row.id
        finally:
            overflowed.cancel()
            if getter is not None:
                getter.cancel()


class EventFeed:
    """Reads new rows of ``event_log`` for this process's listeners (see the module doc).

    ``listen`` (PostgreSQL) blocks calling its first argument on each NOTIFY until its second,
    an event, is set; without it the feed only polls and is woken in-process (``wake``)."""

    def __init__(self, event_log: EventLog, *, poll_s: float, listen: Listen | None = None):
        self.event_log = event_log
        self.poll_s = poll_s
        self._listen = listen
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()
        self._cursor: int | None = None  # highest id handed out; None while nobody listens
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        targets: list[tuple[str, Callable[[], None]]] = [("live-events-feed", self._run)]
        if self._listen is not None:
            listen = self._listen
            targets.append(("live-events-listen", lambda: listen(self.wake, self._stop)))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def wake(self) -> None:
        """Read the log now (a NOTIFY arrived, or this process just wrote)."""
        self._wake.set()

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    # -- listeners (asyncio) -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[Listener]:
        """A place in the feed for the block: every row logged after entering reaches
        ``listener.events()``. Entering reads the log's newest id when nobody listened yet
        (``DatabaseUnavailable`` when it cannot)."""
        listener = Listener(self.event_log, asyncio.get_running_loop())
        listener.start = await asyncio.to_thread(self._join, listener)
        try:
            yield listener
        finally:
            self._leave(listener)

    def _join(self, listener: Listener) -> int:
        """Blocking: add ``listener``; the feed's position, from which it will get every row."""
        with self._lock:
            if self._cursor is None:
                self._cursor = self.event_log.newest_id()
            self._listeners.add(listener)
            return self._cursor

    def _leave(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)
            if not self._listeners:
                self._cursor = None

    # -- the feed thread ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(0.25, 5.0)
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._read()
            except Exception as exc:  # the database is away: listeners wait, nothing is lost
                delay = backoff.failed()
                if backoff.failures == 1:
                    log.warning("live events: cannot read the log (%s)", type(exc).__name__)
                self._stop.wait(delay)
                continue
            backoff.reset()

    def _read(self) -> None:
        """Hand every row above the feed's position to the listeners, in batches."""
        while True:
            with self._lock:
                cursor = self._cursor
            if cursor is None:
                return
            rows = self.event_log.after(cursor, READ_BATCH)
            if not rows:
                return
            with self._lock:
                if self._cursor != cursor:  # everybody left (and maybe somebody came) meanwhile
                    continue
                for listener in self._listeners:
                    listener.offer(rows)
                self._cursor = rows[-1].id
            if len(rows) < READ_BATCH:
                return
