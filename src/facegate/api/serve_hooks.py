"""What ``facegate serve`` runs beside the HTTP API: the TCP stream server and the live view.

``serve_hooks(settings)`` builds the hooks ``app_from_settings`` hands to ``create_app``: a
``StreamServerHook`` (unless ``stream_server`` is off) whose clients are checked against the
same API key store as HTTP requests, and a ``LiveHook`` (cameras, ``/live``, MJPEG, events).
With several workers the stream server listens with ``SO_REUSEPORT`` in every worker and
the kernel spreads the connections.
"""

from __future__ import annotations

from facegate.api.keys import KeyStore, Scope
from facegate.config import Settings
from facegate.live.hook import LiveHook
from facegate.services import Services
from facegate.stream.hook import StreamServerHook
from facegate.stream.server import AllowAll, KeyVerifier


class ApiKeyVerifier:
    """Stream clients' keys checked against the HTTP API's key store (hash lookup, so a
    revoked key is refused at the next connection in every worker).

    A key's scopes are those of ``ApiKey.scopes()``: ``admin`` has them all, any other key only
    its own, so only ``recognize`` and ``admin`` keys may stream (the server asks for
    ``STREAM_SCOPE``); ``monitor`` and ``checkin`` keys are refused (``unauthorized``)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def verify(self, key: str) -> set[str] | None:
        found = self.keys.authenticate(key)
        if found is None:
            return None
        return set(found.scopes())


STREAM_SCOPE: Scope = "recognize"  # what stream/session.py requires of a client's key


def _verifier_for(services: Services) -> KeyVerifier:
    if not services.settings.api.auth:
        return AllowAll()
    return ApiKeyVerifier(KeyStore(services.gallery.store.db))


def serve_hooks(settings: Settings) -> list[StreamServerHook | LiveHook]:
    """The stream server (when enabled) and the live view, in start order."""
    stream = None
    if settings.stream.enabled:
        stream = StreamServerHook(_verifier_for, reuse_port=settings.server.workers > 1)
    live = LiveHook(stream)
    return [stream, live] if stream is not None else [live]
