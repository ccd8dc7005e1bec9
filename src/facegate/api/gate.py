"""The request gate: the cost of a request is bounded before any of its body is read.

FastAPI reads and parses a JSON body *before* the route's dependencies check the key, on the
event loop. Three clients with no key sending 19 MB bodies stalled every other request for
seconds. ``RequestGate`` (pure ASGI, outside the router) closes that:

1. **Authenticate first.** A request that carries a body (``Content-Length`` > 0 or
   ``Transfer-Encoding``) must present a valid key in its headers or session cookie; the key
   is looked up off the event loop (``CachedKeyStore.authenticate_async``) and an unknown or
   missing key answers 401 with ``Connection: close`` without reading a byte of the body.
   Scopes are still checked by each route's ``require(...)``; this gate only decides whether
   the body may be read at all. Public routes that take a body are listed in
   ``PUBLIC_BODY_PATHS`` (sign-in, sign-out) plus the seed-002 route when ``api_compat_open``.
2. **Small bodies unless the route reads images.** Every body may be at most
   ``api_max_body_bytes`` (64 KiB), enforced while it arrives; a route that reads images
   raises its own budget to ``api_max_request_bytes`` with ``allow_image_body`` before it
   reads (``uploads.read_payload`` does). A ``Content-Length`` over the budget is refused
   before reading, a chunked body the moment it passes it (413, ``Connection: close``).
3. **Strict JSON, off the loop.** A small JSON body is read whole and checked by
   ``jsonbody.parse_json`` on a worker thread before the route sees it: lone surrogates,
   ``NaN``, huge integers and deep nesting answer 400 instead of being stored or crashing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.api.access import required_access
from facegate.api.auth import presented_key
from facegate.api.errors import error_body
from facegate.api.jsonbody import parse_json_async
from facegate.api.keycache import CachedKeyStore
from facegate.config import Settings
from facegate.errors import DatabaseUnavailable

PUBLIC_BODY_PATHS = frozenset({"/login", "/logout"})  # signing in and out needs no key
COMPAT_PATH = "/face/image/detect"
_BUDGET = "facegate.body_budget"
_CLOSE = {"connection": "close"}


@dataclass
class BodyBudget:
    """How many body bytes this request may send (shared by reference through the scope)."""

    limit: int
    large: int


def allow_image_body(request: Request) -> int:
    """Let this request's body grow to ``api_max_request_bytes`` (routes that read images
    call this before reading); returns the new limit."""
    budget: BodyBudget | None = request.scope.get(_BUDGET)
    if budget is None:  # not behind the gate (a bare router in a unit test)
        return int(request.app.state.settings.api.max_request_bytes)
    budget.limit = budget.large
    return budget.limit


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _has_body(scope: Scope) -> bool:
    declared = _declared_length(scope)
    return bool(declared) or _header(scope, b"transfer-encoding") is not None


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="facegate"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int, seen: int | None = None) -> HTTPException:
    what = f"request body is {seen} bytes" if seen is not None else "request body is too large"
    return HTTPException(413, f"{what}; the limit for this route is {limit}", headers=_CLOSE)


class RequestGate:
    """ASGI middleware: authenticate before any body is read, then bound and check it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.public = set(PUBLIC_BODY_PATHS)
        if settings.api.compat_open:
            self.public.add(COMPAT_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        s = self.settings
        declared = _declared_length(scope)
        if declared is not None and declared > s.api.max_request_bytes:
            message = f"request body is {declared} bytes; the limit is {s.api.max_request_bytes}"
            await _answer(send, 413, "too_large", message)
            return
        if s.api.auth and _has_body(scope) and scope.get("path") not in self.public:
            refusal = await self._refusal(scope)
            if refusal is not None:
                await _answer(send, *refusal)
                return
        budget = BodyBudget(limit=min(s.api.max_body_bytes, s.api.max_request_bytes),
                            large=s.api.max_request_bytes)  # fmt: skip
        scope[_BUDGET] = budget
        await self.app(scope, _BoundedBody(scope, receive, budget), send)

    async def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """Why this request may not send a body, as (status, code, message); None: it may.
        The key must be valid *and* of the scope the route declares (api/access.py), so a
        camera's key cannot make the server parse bodies meant for administrators."""
        secret, _ = presented_key(Request(scope))
        if not secret:
            return 401, "unauthorized", "an API key is required: send X-API-Key or Bearer"
        keys: CachedKeyStore = scope["app"].state.keys
        try:
            key = await keys.authenticate_async(secret)
        except DatabaseUnavailable as exc:  # no 500 while PostgreSQL is away
            return 503, "unavailable", str(exc)
        if key is None:
            return 401, "unauthorized", "the API key is unknown or has been revoked"
        needed = required_access(scope["app"], scope)
        if needed is not None and needed != "public" and not key.allows(needed):
            return (
                403,
                "forbidden",
                f"this key's scope is {key.scope!r}; this call needs {needed!r}",
            )
        return None


class _BoundedBody:
    """The ``receive`` the app sees: counts bytes against the budget; a small JSON body is
    read whole and checked strictly (off the loop) before it is handed on."""

    def __init__(self, scope: Scope, receive: Receive, budget: BodyBudget) -> None:
        self.scope = scope
        self.receive = receive
        self.budget = budget
        self.seen = 0
        self.first = True

    async def __call__(self) -> Message:
        if self.first:
            self.first = False
            declared = _declared_length(self.scope)
            if declared is not None and declared > self.budget.limit:
                raise _too_large(self.budget.limit, declared)
            if self.budget.limit < self.budget.large and _is_json(self.scope):
                return await self._checked_json()
        return await self._next()

    async def _next(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.budget.limit:
                raise _too_large(self.budget.limit)
        return message

    async def _checked_json(self) -> Message:
        chunks: list[bytes] = []
        while True:
            message = await self._next()
            if message["type"] != "http.request":
                return message  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                await parse_json_async(body)
            except HTTPException:
                raise
            except Exception as exc:  # BadRequest: answered 400 by the route's handlers
                raise HTTPException(400, str(exc), headers=_CLOSE) from None
        return {"type": "http.request", "body": body, "more_body": False}
