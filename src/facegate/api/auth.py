"""Who may call what: API keys from a header, or from the pages' session cookie.

A key is read from ``X-API-Key`` or ``Authorization: Bearer``. The pages keep the key the
user typed in once in an HttpOnly, SameSite=Strict cookie (JavaScript cannot read it, other
sites cannot send it); a request authenticated by that cookie must also carry the
``X-Facegate-Page`` header when it changes something, which a cross-site form cannot add.

``require(scope)`` (API routes, WebSockets) and ``page(scope)`` (pages: a missing session
goes to the sign-in page instead of 401) are FastAPI dependencies and, through
``facegate.api.access``, each route's declaration of who may call it. They are plain ``def``:
FastAPI runs them on its thread pool, so the key's database lookup never blocks the event
loop. With ``api_auth`` off (``facegate serve --no-auth``) they let everything through (the
``LocalOnly`` middleware then keeps the server to loopback hosts and same-origin writes).
The key is kept in ``request.state.key`` for the handler and the templates.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.requests import HTTPConnection

from facegate.api.access import mark
from facegate.api.errors import Forbidden, Unauthorized
from facegate.api.keys import ApiKey, KeyStore, Scope
from facegate.cluster.auth import HEADER as NODE_HEADER
from facegate.config import Settings

SESSION_COOKIE = "facegate_session"
PAGE_HEADER = "x-facegate-page"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document (the "Authorize" button in /docs); read by hand below so
# that a missing key gives our error shape rather than FastAPI's.
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


class NeedLogin(Exception):
    """A page was asked for without a valid session: the answer is the sign-in page."""


class PageForbidden(Exception):
    """A signed-in session whose key's scope does not include the page's."""


def presented_key(conn: HTTPConnection) -> tuple[str | None, bool]:
    """The key in the request and whether it came from the session cookie."""
    header = conn.headers.get("x-api-key")
    if header:
        return header.strip(), False
    authorization = conn.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = conn.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def authenticate(conn: HTTPConnection) -> ApiKey | None:
    """The caller's key (None when auth is off); raises ``Unauthorized`` when it is absent,
    unknown or revoked. Blocking (a database lookup): call it off the event loop."""
    if not conn.app.state.settings.api.auth:
        return None
    secret, from_cookie = presented_key(conn)
    if not secret:
        raise Unauthorized("an API key is required: send X-API-Key or Authorization: Bearer")
    keys: KeyStore = conn.app.state.keys
    key = keys.authenticate(secret)
    if key is None:
        raise Unauthorized("the API key is unknown or has been revoked")
    method = conn.scope.get("method", "GET")
    if from_cookie and method not in _SAFE_METHODS and PAGE_HEADER not in conn.headers:
        raise Forbidden(f"a page session must send the {PAGE_HEADER} header")
    conn.state.key = key
    return key


def require(
    scope: Scope, *, open_if: Callable[[Settings], bool] | None = None
) -> Callable[..., ApiKey | None]:
    """A dependency that admits keys allowing ``scope`` (``admin`` allows everything) and
    declares the route's access. ``open_if`` reads a boolean setting that, when true, lets
    the route be called without a key (``api.compat_open``)."""

    def dependency(conn: HTTPConnection) -> ApiKey | None:
        if open_if is not None and open_if(conn.app.state.settings):
            return None
        key = authenticate(conn)
        if key is not None and not key.allows(scope):
            raise Forbidden(f"this key's scope is {key.scope!r}; this call needs {scope!r}")
        return key

    dependency.__name__ = f"require_{scope}"
    return mark(dependency, scope)


def require_or_node(scope: Scope) -> Callable[..., ApiKey | None]:
    """``require(scope)``, or a valid node token of this cluster (``X-Facegate-Node``,
    facegate.cluster.auth): the internal endpoints other hosts call. A node token admits
    the caller as a node (``None``: no key)."""
    by_key = require(scope)

    def dependency(conn: HTTPConnection) -> ApiKey | None:
        token = conn.headers.get(NODE_HEADER)
        cluster = getattr(getattr(conn.app.state, "services", None), "cluster", None)
        if token and cluster is not None:
            if cluster.tokens.verify(token) is None:
                raise Unauthorized("the node token is invalid or expired")
            return None
        return by_key(conn)

    dependency.__name__ = f"require_{scope}_or_node"
    return mark(dependency, scope)


def page(scope: Scope) -> Callable[..., ApiKey | None]:
    """A page's dependency: the session cookie's key must allow ``scope``; without a valid
    session ``NeedLogin`` (the sign-in page), with a weaker key ``PageForbidden`` (403)."""

    def dependency(request: Request) -> ApiKey | None:
        if not request.app.state.settings.api.auth:
            return None
        secret = request.cookies.get(SESSION_COOKIE)
        key: ApiKey | None = request.app.state.keys.authenticate(secret) if secret else None
        if key is None:
            raise NeedLogin
        request.state.key = key
        if not key.allows(scope):
            raise PageForbidden
        return key

    dependency.__name__ = f"page_{scope}"
    return mark(dependency, scope)
