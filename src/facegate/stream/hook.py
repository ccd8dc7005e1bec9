"""Running the stream server inside ``facegate serve``, beside the HTTP API.

The API's app factory (``facegate.api.app.create_app(settings, hooks=[...])``) starts each
hook after ``Services`` exists and stops it before ``Services`` closes, on uvicorn's event
loop, so the stream server and the HTTP API share one ``Services`` and therefore one
inference pool. The key verifier is built from those ``Services`` by a factory the caller
passes in (the API's key store, or ``AllowAll`` for ``--no-auth``), which keeps this package
free of any import from ``facegate.api``.

With several uvicorn workers every worker runs a hook; ``reuse_port`` lets them all listen on
the same port and the kernel spreads connections (each stream stays on one worker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from facegate.services import Services
from facegate.stream.pipeline import TrackObserver
from facegate.stream.server import KeyVerifier, StreamServer

log = logging.getLogger(__name__)


class StreamServerHook:
    """``start(services)`` / ``stop()`` for the API's lifespan hooks."""

    def __init__(
        self,
        verifier_for: Callable[[Services], KeyVerifier],
        *,
        reuse_port: bool = False,
        observer_for: Callable[[Services, str], TrackObserver] | None = None,
    ) -> None:
        self.verifier_for = verifier_for
        self.reuse_port = reuse_port
        # (services, stream name) -> what sees each frame's tracks, e.g.
        # ``lambda services, stream: Announcer(services.events, stream).observe``
        self.observer_for = observer_for
        self.server: StreamServer | None = None

    async def start(self, services: Services) -> None:
        observer_for = self.observer_for
        server = StreamServer(
            services,
            verifier=self.verifier_for(services),
            reuse_port=self.reuse_port,
            observer_for=None if observer_for is None else partial(observer_for, services),
        )
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
