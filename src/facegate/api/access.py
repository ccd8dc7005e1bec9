"""Deny by default: every route says who may call it, and the app refuses to start otherwise.

A route declares its access with a dependency that carries a mark: ``require(scope)`` (an API
key of that scope; ``admin`` includes every scope), ``page(scope)`` (the pages' session
cookie, same scopes) or ``public`` (no key: health checks, the sign-in page, static files).
Routes that are not FastAPI routes (the OpenAPI document, ``/docs``, the ``/static`` mount)
are declared public with ``declare_public(app, path)``.

``check_declared(app)`` walks ``app.routes`` and raises ``UndeclaredRoute`` naming every route
without a declaration; ``create_app`` calls it after adding its routes and again when the
server starts, so a new route without one never serves a request. ``route_access(app)`` is
the resulting table (``"GET /api/v1/people" -> "admin"``), which tests compare with the
committed tests/api/route_scopes.json and then check route by route against a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, RouteContext, iter_route_contexts
from starlette.routing import Mount, Route, compile_path
from starlette.types import Scope

Access = Literal["public", "recognize", "monitor", "checkin", "admin"]
_MARK = "__facegate_access__"
F = TypeVar("F", bound=Callable[..., Any])

HOW_TO_DECLARE = (
    "add one of dependencies=[Depends(require('admin'))] (or 'recognize', 'monitor', "
    "'checkin'; facegate.api.auth), Depends(page(...)) for a page, or Depends(public) for no "
    "key, then add the route's row to tests/api/route_scopes.json (docs/security.md)"
)


class UndeclaredRoute(RuntimeError):
    """A route that does not say who may call it (the app must not start)."""


def mark(dependency: F, access: Access) -> F:
    """Tag a dependency as the declaration of ``access`` for the routes that use it."""
    setattr(dependency, _MARK, access)
    return dependency


def public() -> None:
    """The declaration of a route anybody may call (no key)."""


mark(public, "public")


def declare_public(app: FastAPI, path: str) -> None:
    """Declare a non-FastAPI route (OpenAPI document, docs page, a static mount) public."""
    app.state.public_paths = _public_paths(app) | {path}


def _public_paths(app: FastAPI) -> set[str]:
    return cast(set[str], getattr(app.state, "public_paths", set()))


def _marks(dependant: Dependant) -> Iterable[Access]:
    for sub in dependant.dependencies:
        found = getattr(sub.call, _MARK, None)
        if found is not None:
            yield found
        yield from _marks(sub)


def _combine(marks: set[Access]) -> Access | None:
    """One route's access: all its declarations must pass, so two different scopes leave
    only ``admin`` (which includes both); ``public`` adds nothing to a scope."""
    if not marks:
        return None
    scopes = marks - {"public"}
    if not scopes:
        return "public"
    return scopes.pop() if len(scopes) == 1 else "admin"


def _rows(app: FastAPI, ctx: RouteContext) -> list[tuple[str, Access | None]]:
    # A RouteContext is a route as the app serves it: prefix and router dependencies applied.
    route = ctx.original_route
    path = str(ctx.path)
    if isinstance(route, APIRoute):
        access = _combine(set(_marks(ctx.dependant)))
        return [(f"{method} {path}", access) for method in sorted(ctx.methods or ())]
    if isinstance(route, APIWebSocketRoute):
        return [(f"WS {path}", _combine(set(_marks(ctx.dependant))))]
    public = _public_paths(app)
    if isinstance(route, Mount):
        return [(f"GET {path}/{{path}}", "public" if path in public else None)]
    if isinstance(route, Route):
        declared: Access | None = "public" if path in public else None
        return [(f"{method} {path}", declared) for method in sorted(route.methods or ["GET"])]
    return [(f"? {path}", None)]


def route_access(app: FastAPI) -> dict[str, Access | None]:
    """``"METHOD /path"`` (``"WS /path"`` for WebSockets) -> who may call it, None when the
    route declares nothing. HEAD answers like GET and is left out."""
    table: dict[str, Access | None] = {}
    for ctx in iter_route_contexts(app.routes):
        for key, access in _rows(app, ctx):
            if not key.startswith("HEAD "):
                table[key] = access
    return dict(sorted(table.items()))


# A route as the request gate matches it: path regex, methods, declared access.
_Pattern = tuple[re.Pattern[str], frozenset[str], Access | None]


def required_access(app: FastAPI, scope: Scope) -> Access | None:
    """Who may call the route that will serve this HTTP request (None: no route matches, or
    it declares nothing). The request gate asks before any body is read, so a key of the
    wrong scope is refused before the server parses what it sent."""
    table: list[_Pattern] | None = app.state.__dict__.get("_access_patterns")
    if table is None:
        table = app.state._access_patterns = [
            (compile_path(str(ctx.path))[0], frozenset(ctx.methods or ()), access)
            for ctx in iter_route_contexts(app.routes)
            if isinstance(ctx.original_route, APIRoute)
            for access in [_combine(set(_marks(ctx.dependant)))]
        ]
    path, method = scope.get("path", ""), scope.get("method", "")
    for pattern, methods, access in table:
        if method in methods and pattern.match(path):
            return access
    return None


def check_declared(app: FastAPI) -> None:
    """Raise ``UndeclaredRoute`` when any route of ``app`` does not declare its access."""
    missing = [key for key, access in route_access(app).items() if access is None]
    if missing:
        raise UndeclaredRoute(
            f"these routes do not say who may call them: {', '.join(missing)}; {HOW_TO_DECLARE}"
        )
