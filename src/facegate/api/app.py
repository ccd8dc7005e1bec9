"""The FastAPI application factory and its lifespan.

``create_app(settings)`` builds an app without touching models or databases; its lifespan
builds one ``Services`` (engine, gallery, inference pool) when the server starts and closes it
when the server stops. Nothing lives in module globals, so every uvicorn worker process
builds its own ``Services`` and the workers agree through the shared gallery database.

Other long-running parts of a facegate process (the TCP stream server, next) hook in through
``app.state.hooks``: each hook is started after ``Services`` exists and stopped, in reverse
order, before it is closed.

Deny by default (facegate.api.access): every route must declare who may call it; the app
refuses to be built, and to start, while one does not. docs/security.md has the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Protocol

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from facegate.access.service import AccessHook
from facegate.api.access import check_declared, declare_public
from facegate.api.errors import install_error_handlers
from facegate.api.gate import RequestGate
from facegate.api.keycache import CachedKeyStore
from facegate.api.metrics import Metrics, MetricsMiddleware
from facegate.api.revocation import RevocationWatch
from facegate.api.routes import (
    access,
    access_events,
    attendance,
    attendance_hr,
    cluster,
    compat,
    health,
    live_internal,
    liveness,
    people,
    recognition,
    review,
    site_settings,
)
from facegate.api.routes import live as live_routes
from facegate.api.security import LocalOnly, SecurityHeaders
from facegate.api.serve_hooks import serve_hooks
from facegate.api.web import (
    access_pages,
    api_docs,
    attendance_pages,
    pages,
    schedule_pages,
    settings_pages,
)
from facegate.attendance.recorder import AttendanceHook
from facegate.config import Settings
from facegate.live.event_log_hook import EventLogHook
from facegate.live.hook import LiveHook
from facegate.redact import quiet_leaky_loggers
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
        check_declared(app)  # routes added after create_app must declare their access too
        # Loading models and migrating the database block; keep them off the event loop.
        services = await asyncio.to_thread(partial(Services.start, settings, warm_up=True))
        app.state.services = services
        app.state.keys = CachedKeyStore(
            services.gallery.store.db, outage_grace_s=settings.gallery.max_staleness_s
        )
        app.state.revocations = RevocationWatch(app.state.keys, settings.api.revocation_check_s)
        if not settings.api.auth:
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
            await app.state.revocations.close()
            del app.state.services
            await asyncio.to_thread(services.close)

    app = FastAPI(
        title="facegate",
        version="1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the swagger-ui-bundle package (api/web/api_docs.py)
        redoc_url=None,
    )
    app.state.settings = settings
    # The attendance recorder starts first so it is subscribed before any stream publishes.
    app.state.attendance_hook = AttendanceHook(settings)
    # Access control's door watchers are registered before any stream starts (late ones
    # would still reach running streams; see facegate.observers).
    app.state.access_hook = AccessHook(settings)
    # The live event log's writer too (every host's /ws/events reads it: facegate.live).
    app.state.event_log_hook = EventLogHook(settings)
    app.state.hooks = [
        app.state.attendance_hook,
        app.state.event_log_hook,
        app.state.access_hook,
        *hooks,
    ]
    # Server cameras at doors run without viewers: the access hook asks the live hook's cameras.
    app.state.access_hook.live = next((h for h in hooks if isinstance(h, LiveHook)), None)
    metrics = Metrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(people.router)
    app.include_router(recognition.router)
    app.include_router(compat.router)
    app.include_router(attendance.router)
    app.include_router(attendance_hr.router)
    app.include_router(site_settings.router)
    app.include_router(access.router)
    app.include_router(access_events.router)
    app.include_router(liveness.router)
    app.include_router(cluster.router)
    pages.install(app)
    live_routes.install(app)
    app.include_router(live_internal.router)
    attendance_pages.install(app)
    settings_pages.install(app)
    schedule_pages.install(app)
    access_pages.install(app)
    review.install(app)
    api_docs.install(app)
    for path in (app.openapi_url,):
        if path:
            declare_public(app, path)
    check_declared(app)
    # Added last = outermost at run time: metrics see every request, including refused
    # bodies; the gate authenticates and bounds a body before anything reads it
    # (api/gate.py); every answer carries the security headers; without auth only loopback
    # hosts and same-origin writes pass; a trusted proxy's X-Forwarded-* apply to all.
    app.add_middleware(RequestGate, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if not settings.api.auth:
        app.add_middleware(LocalOnly, allowed_hosts=settings.api.allowed_hosts)
    app.add_middleware(SecurityHeaders, docs_path=api_docs.DOCS_PATH)
    if settings.api.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.api.trusted_proxies)
    return app


def app_from_settings(settings: Settings | None = None) -> FastAPI:
    """The factory uvicorn calls in each worker: ``facegate serve`` hands every worker the
    same effective settings (pickled with uvicorn's config, never through the environment);
    without them (``uvicorn --factory facegate.api.app:app_from_settings``) the settings are
    read as every command reads them (``FACEGATE_CONFIG`` file, ``FACEGATE_*``)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_leaky_loggers()  # webhook URLs (tokens, basic auth) never reach the log
    settings = settings or Settings()
    return create_app(settings, hooks=serve_hooks(settings))
