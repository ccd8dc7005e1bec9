"""The HTTP edge's defences that are not about keys: response headers, ``--no-auth`` fencing
and trusting a TLS-terminating proxy. All are plain ASGI middleware (no body buffering).

- ``SecurityHeaders`` adds to every answer a Content-Security-Policy fit for the pages (only
  same-origin scripts, styles, images, fetches and WebSockets; ``data:``/``blob:`` images for
  the identify and enrol previews; no framing), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``. The ``/docs`` page
  starts Swagger UI (served from this server) with an inline script, so it alone gets a
  policy allowing that.
- ``LocalOnly`` runs when authentication is off: only loopback ``Host`` names (plus
  ``api_allowed_hosts``) are served, which defeats DNS rebinding, and a request that changes
  something must not come from another origin (a page elsewhere posting to localhost).
- Behind a TLS-terminating proxy, ``create_app`` adds uvicorn's ``ProxyHeadersMiddleware``
  for the addresses in ``api_trusted_proxies``: their ``X-Forwarded-Proto``/``-For`` become
  the request's scheme and client, so the session cookie is ``Secure`` there.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# /docs: Swagger UI's files come from this server (api/web/api_docs.py); its page starts them
# with one inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
STATIC_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SecurityHeaders:
    """Adds the security headers to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp, docs_path: str | None = "/docs") -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope.get("path") == self.docs_path else CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"content-security-policy", csp), *STATIC_HEADERS]
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def host_name(host: str) -> str:
    """``Host`` without its port (``[::1]:8000`` -> ``[::1]``), lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class LocalOnly:
    """``--no-auth`` fencing; see the module docstring. Refusals are 403 with our error shape
    (WebSockets: closed before the handshake)."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = LOOPBACK_HOSTS | {host_name(h) for h in allowed_hosts}

    def _refusal(self, scope: Scope) -> str | None:
        host = _header(scope, b"host") or ""
        if host_name(host) not in self.allowed:
            return (
                f"host {host_name(host)!r} is not served without authentication: use a "
                "loopback address, add it to api_allowed_hosts, or turn authentication on"
            )
        origin = _header(scope, b"origin")
        state_changing = scope["type"] == "websocket" or scope.get("method") not in _SAFE_METHODS
        same = urlsplit(origin).netloc.lower() == host.strip().lower() if origin else True
        if state_changing and not same:
            return "cross-origin requests that change something are refused"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self._refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": {"code": "forbidden", "message": reason}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
