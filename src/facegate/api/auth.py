"""Who may call what: API keys from a header, or from the pages' session cookie.

A key is read from ``X-API-Key`` or ``Authorization: Bearer``. The pages keep the key the
administrator typed in once in an HttpOnly, SameSite=Strict cookie (JavaScript cannot read it,
other sites cannot send it); a request authenticated by that cookie must also carry the
``X-Facegate-Page`` header when it changes something, which a cross-site form cannot add.

``require("admin")`` and ``require("recognize")`` are FastAPI dependencies; with
``api_auth`` off (``facegate serve --no-auth``) they let everything through.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.security import APIKeyHeader, HTTPBearer

from facegate.api.errors import Forbidden, Unauthorized
from facegate.api.keys import ApiKey, KeyStore, Scope

SESSION_COOKIE = "facegate_session"
PAGE_HEADER = "x-facegate-page"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document (the "Authorize" button in /docs); read by hand below so
# that a missing key gives our error shape rather than FastAPI's.
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


def presented_key(request: Request) -> tuple[str | None, bool]:
    """The key in the request and whether it came from the session cookie."""
    header = request.headers.get("x-api-key")
    if header:
        return header.strip(), False
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def authenticate(request: Request) -> ApiKey | None:
    """The caller's key (None when auth is off); raises ``Unauthorized`` when it is absent,
    unknown or revoked."""
    if not request.app.state.settings.api_auth:
        return None
    secret, from_cookie = presented_key(request)
    if not secret:
        raise Unauthorized("an API key is required: send X-API-Key or Authorization: Bearer")
    keys: KeyStore = request.app.state.keys
    key = keys.authenticate(secret)
    if key is None:
        raise Unauthorized("the API key is unknown or has been revoked")
    if from_cookie and request.method not in _SAFE_METHODS and PAGE_HEADER not in request.headers:
        raise Forbidden(f"a page session must send the {PAGE_HEADER} header")
    return key


def require(scope: Scope) -> Callable[..., ApiKey | None]:
    """A dependency that admits keys allowing ``scope`` (``admin`` allows everything)."""

    def dependency(request: Request) -> ApiKey | None:
        key = authenticate(request)
        if key is not None and not key.allows(scope):
            raise Forbidden(f"this key's scope is {key.scope!r}; this call needs {scope!r}")
        return key

    dependency.__name__ = f"require_{scope}"
    return dependency
