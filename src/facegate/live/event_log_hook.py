"""``EventLogHook``: the live event log's writer and feed for the life of the HTTP server.

Started right after the attendance hook (before any stream can publish), on a database
connection of its own. ``/ws/events`` (facegate.api.routes.live) reads ``hook.feed``.
"""

from __future__ import annotations

import asyncio
from functools import partial

from facegate.config import Settings
from facegate.gallery.db import Database, PostgresDatabase, another_connection
from facegate.live.event_feed import EventFeed, Listen
from facegate.live.event_log import EVENTS_CHANNEL, EventLog
from facegate.live.event_writer import EventWriter
from facegate.services import Services

# How often the feed reads the log without being woken: on PostgreSQL only a backstop for a
# NOTIFY lost while the LISTEN connection was reopened; on SQLite how soon a sibling worker's
# events show (this worker's own wake the feed at once).
PG_POLL_S = 2.0
SQLITE_POLL_S = 0.25


class EventLogHook:
    """``start(services)`` / ``stop()`` of the writer and the feed (see docs/cluster.md)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: Database | None = None
        self.writer: EventWriter | None = None
        self.feed: EventFeed | None = None

    async def start(self, services: Services) -> None:
        db = await asyncio.to_thread(another_connection, services.gallery.store.db)
        self.db = db
        event_log = EventLog(db)
        listen: Listen | None = None
        if isinstance(db, PostgresDatabase):
            listen = partial(db.listen, channel=EVENTS_CHANNEL)
        poll_s = PG_POLL_S if listen is not None else SQLITE_POLL_S
        self.feed = EventFeed(event_log, poll_s=poll_s, listen=listen)
        self.feed.start()
        cluster = services.cluster
        node = await asyncio.to_thread(lambda: cluster.id) if cluster is not None else None
        self.writer = EventWriter(
            event_log,
            services.events,
            node,
            keep_s=self.settings.live.events_keep_minutes * 60,
            on_written=self.feed.wake,
        )
        self.writer.start()

    async def stop(self) -> None:
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)
            self.writer = None
        if self.feed is not None:
            await asyncio.to_thread(self.feed.stop)
            self.feed = None
        if self.db is not None:
            await asyncio.to_thread(self.db.close)
            self.db = None
