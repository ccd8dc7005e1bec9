"""The HTTP edge of facegate's errors: one JSON shape, one status per error code.

Every failure answers ``{"error": {"code": "...", "message": "..."}}``. Domain errors
(``facegate.errors``) know nothing of HTTP; this module is the only place that maps their
stable codes to statuses, so a client can rely on the code and a status can be changed here
alone. Unexpected exceptions answer 500 ``internal`` without details (they may contain data
from the request) and are logged with a traceback but never with the request body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facegate.errors import FacegateError

log = logging.getLogger(__name__)


class TooLarge(FacegateError):
    """The request body or one uploaded image is over its byte limit."""

    code = "too_large"


class UnsupportedMediaType(FacegateError):
    """The request is neither ``multipart/form-data`` nor ``application/json``."""

    code = "unsupported_media_type"


class Unauthorized(FacegateError):
    """No API key, or one that is unknown or revoked."""

    code = "unauthorized"


class Forbidden(FacegateError):
    """The key is valid but its scope does not allow this call."""

    code = "forbidden"


class BadRequest(FacegateError):
    """The body cannot be parsed at all (malformed JSON or multipart)."""

    code = "bad_request"


STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "bad_image": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "unknown_person": 404,
    "unknown_template": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "model_mismatch": 409,
    "too_large": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "unsupported_image": 415,
    "no_face": 422,
    "several_faces": 422,
    "invalid_input": 422,
    "invalid_request": 422,
    "busy": 503,
    "unavailable": 503,
    "invalid_token": 400,
    "token_expired": 410,
    "token_used": 409,
    "model_error": 500,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


# Paths that are API, never pages: they answer JSON whatever the client accepts.
API_PREFIXES = ("/api/", "/streams/", "/ws/", "/metrics", "/healthz", "/readyz", "/static/",
                "/openapi.json", "/v1/")  # fmt: skip


def wants_html(request: Request) -> bool:
    """A browser asking for a page (``GET`` with ``Accept: text/html``, not an API path): it
    gets the site's error page instead of JSON; API clients keep the JSON shape."""
    if request.scope.get("type") != "http":  # a WebSocket's refusal stays as it was
        return False
    if request.method not in ("GET", "HEAD") or request.url.path.startswith(API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _page_or_json(request: Request, response: JSONResponse, code: str, message: str) -> Response:
    render = getattr(request.app.state, "html_error_page", None)
    if render is None or not wants_html(request):
        return response
    page: Response = render(request, response.status_code, code, message)
    return page


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int | None = None) -> JSONResponse:
    status = status or STATUS_BY_CODE.get(code, 500)
    headers = {"Retry-After": "1"} if code in ("busy", "unavailable") else None
    if code == "unauthorized":
        headers = {"WWW-Authenticate": 'Bearer realm="facegate"'}
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FacegateError)
    return _page_or_json(request, error_response(exc.code, str(exc)), exc.code, str(exc))


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    message = "; ".join(parts) or "invalid request"
    return _page_or_json(
        request, error_response("invalid_request", message, 422), "invalid_request", message
    )


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    response = error_response(code, message, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return _page_or_json(request, response, code, message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_response("internal", "internal server error", 500)
    try:
        return _page_or_json(request, response, "internal", "internal server error")
    except Exception:  # the error page itself failed: the plain answer still goes out
        log.exception("the error page failed")
        return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FacegateError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
