"""``LiveHook``: cameras, the live registry and the peer relay, beside the HTTP API.

Started by the API's lifespan after the stream server's hook (when there is one), so TCP
streams and cameras share one ``FairScheduler`` and therefore take fair turns on the one
inference pool. The HTTP routes (``facegate.api.routes.live``) find the hook in
``app.state.hooks``.
"""

from __future__ import annotations

import logging
from typing import Any

from facegate.live.cameras import SourceFactory, open_source
from facegate.live.hub import LiveHub
from facegate.live.manager import CameraManager
from facegate.live.relay import Relay
from facegate.services import Services
from facegate.stream.hook import StreamServerHook
from facegate.stream.scheduler import FairScheduler

log = logging.getLogger(__name__)


class LiveHook:
    """``start(services)`` / ``stop()`` for the live view; see docs/live.md."""

    def __init__(
        self,
        stream_hook: StreamServerHook | None = None,
        *,
        source_factory: SourceFactory = open_source,
    ) -> None:
        self.stream_hook = stream_hook
        self.source_factory = source_factory
        self.hub: LiveHub | None = None
        self.cameras: CameraManager | None = None
        self.relay: Relay | None = None
        self.services: Services | None = None
        self._scheduler: FairScheduler | None = None  # ours, when there is no stream server

    async def start(self, services: Services) -> None:
        s = services.settings
        self.services = services
        hub = LiveHub(viewer_idle_s=s.live.viewer_idle_s, max_viewers=s.live.max_viewers)
        server = self.stream_hook.server if self.stream_hook is not None else None
        if server is not None:
            server.live = hub
            scheduler = server.scheduler
        else:
            scheduler = self._scheduler = FairScheduler(services.inference)
        self.hub = hub
        self.cameras = CameraManager(services, hub, scheduler, source_factory=self.source_factory)
        await self.cameras.start()
        if s.server.workers > 1:
            self.relay = Relay(s.storage.data_dir / "live" / "peers", hub, s.live.viewer_idle_s)
            await self.relay.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
        if self.cameras is not None:
            await self.cameras.stop()
        if self._scheduler is not None:
            await self._scheduler.close()
        if self.stream_hook is not None and self.stream_hook.server is not None:
            self.stream_hook.server.live = None

    async def all_streams(self) -> list[dict[str, Any]]:
        """This worker's streams and, with several workers, every peer's."""
        if self.hub is None:
            return []
        mine = self.hub.stats()
        if self.relay is None:
            return mine
        pid = self.relay.pid
        return [dict(s, worker=pid) for s in mine] + await self.relay.peer_stats()
