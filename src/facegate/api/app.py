"""The FastAPI application factory and its lifespan.

``create_app(settings)`` builds an app without touching models or databases; its lifespan
builds one ``Services`` (engine, gallery, inference pool) when the server starts and closes it
when the server stops. Nothing lives in module globals, so every uvicorn worker process
builds its own ``Services`` and the workers agree through the shared gallery database.

Other long-running parts of a facegate process (the TCP stream server, next) hook in through
``app.state.hooks``: each hook is started after ``Services`` exists and stopped, in reverse
order, before it is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from facegate.api.errors import install_error_handlers
from facegate.api.keys import KeyStore
from facegate.api.metrics import Metrics, MetricsMiddleware
from facegate.api.routes import attendance, compat, health, liveness, people, recognition
from facegate.api.routes import live as live_routes
from facegate.api.serve_hooks import serve_hooks
from facegate.api.uploads import BodyLimit
from facegate.api.web import attendance_pages, pages
from facegate.attendance.recorder import AttendanceHook
from facegate.config import Settings
from facegate.services import Services

log = logging.getLogger(__name__)

API_DESCRIPTION = """Face recognition over HTTP: enrol people from photos, then identify,
verify and detect faces in images. Send an API key in `X-API-Key` (or
`Authorization: Bearer`). Every error answers `{"error": {"code", "message"}}`."""


class Hook(Protocol):
    """Something that runs beside the HTTP server for the life of the process."""

    async def start(self, services: Services) -> None: ...

    async def stop(self) -> None: ...


def create_app(settings: Settings | None = None, *, hooks: Sequence[Hook] = ()) -> FastAPI:
    """A facegate HTTP app for ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading models and migrating the database block; keep them off the event loop.
        services = await asyncio.to_thread(Services.start, settings)
        app.state.services = services
        app.state.keys = KeyStore(services.gallery.store.db)
        if not settings.api_auth:
            log.warning(
                "!!! AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port can "
                "enrol, delete and identify people. Use only for local experiments. !!!"
            )
        started: list[Hook] = []
        try:
            for hook in app.state.hooks:
                await hook.start(services)
                started.append(hook)
            yield
        finally:
            for hook in reversed(started):
                try:
                    await hook.stop()
                except Exception:
                    log.exception("stopping %r failed", hook)
            del app.state.services
            await asyncio.to_thread(services.close)

    app = FastAPI(
        title="facegate",
        version="1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # The attendance recorder starts first so it is subscribed before any stream publishes.
    app.state.attendance_hook = AttendanceHook(settings)
    app.state.hooks = [app.state.attendance_hook, *hooks]
    metrics = Metrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(people.router)
    app.include_router(recognition.router)
    app.include_router(compat.router)
    app.include_router(attendance.router)
    app.include_router(liveness.router)
    pages.install(app)
    live_routes.install(app)
    attendance_pages.install(app)
    # Outermost first at run time: metrics see every request, including refused bodies.
    app.add_middleware(BodyLimit, limit=settings.api_max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (``facegate serve`` passes the settings
    through ``FACEGATE_*`` environment variables)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    return create_app(settings, hooks=serve_hooks(settings))
