"""The admin pages: sign in, people, a person, enrol, identify.

Pages are rendered on the server from the gallery (lists, a person's faces); everything that
changes data or runs a model is done by the page's JavaScript calling the same ``/api/v1``
endpoints an integrator uses, authenticated by the session cookie set at sign-in. The cookie
holds the key the user typed (HttpOnly, SameSite=Strict, Secure over HTTPS or when
``api_secure_cookies`` is on, no expiry: it ends with the browser session). Only ``admin``
and ``monitor`` keys may sign in; a device's key (``recognize``, ``checkin``) is refused with
the reason. Each page declares its scope with ``page(...)`` (facegate.api.auth).
"""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from facegate.api.access import declare_public, public
from facegate.api.auth import SESSION_COOKIE, NeedLogin, PageForbidden
from facegate.api.auth import page as require_page
from facegate.api.keys import PAGE_SCOPES, ApiKey
from facegate.api.schemas import MAX_ID
from facegate.api.web.i18n import LANG_COOKIE, LANGS, TEXTS, Lang, choose
from facegate.errors import UnknownPerson

HERE = FilePath(__file__).parent
PAGE_SIZE = 48


def _lang(request: Request) -> Lang:
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a link send the user elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/people"
    return target


class Pages:
    """Route handlers sharing the template environment."""

    def __init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = _lang(request)
        texts = TEXTS[lang]

        def t(key: str, **values: object) -> str:
            text = texts.get(key, key)
            return text.format(**values) if values else text

        auth = request.app.state.settings.api.auth
        key: ApiKey | None = getattr(request.state, "key", None)
        login_page = name == "login.html"
        # Sign-out is offered to a session: a page that checked its key, or (an error page of
        # a path no page declares) a browser holding the session cookie; never on sign-in.
        signed_in = (
            bool(auth) and not login_page and (key is not None or SESSION_COOKIE in request.cookies)
        )
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "t": t,
                "lang": lang,
                "langs": LANGS,
                "texts_json": json.dumps(texts, ensure_ascii=False),
                "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                "auth": auth,
                "signed_in": signed_in,
                "login_page": login_page,
                "status_code": status if status >= 400 else None,
                # What the navigation offers: everything without auth or for admin.
                "scope": key.scope if key is not None else ("admin" if not auth else None),
                **context,
            },
            status_code=status,
        )

    def need_login(self, request: Request, exc: Exception) -> Response:
        """The answer to ``NeedLogin``: the sign-in page, then back here."""
        here = request.url.path + ("?" + request.url.query if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here)}", status_code=303)

    def forbidden(self, request: Request, exc: Exception) -> Response:
        """The answer to ``PageForbidden``: a 403 page saying the key cannot see this."""
        return self.render(request, "error.html", 403, message_key="error.forbidden")

    def error_page(self, request: Request, status: int, code: str, message: str) -> Response:
        """The site's own error page (api/errors.py asks for it when a browser, not an API
        client, gets an error on a page path): the code's text in the page's language, the
        server's message when there is none, and a link home."""
        key = f"err.{code}"
        if key in TEXTS[_lang(request)]:
            return self.render(request, "error.html", status, message_key=key, code=code)
        return self.render(request, "error.html", status, message=message, code=code)


def secure_cookie(request: Request) -> bool:
    """Mark the session cookie ``Secure``: the request came over HTTPS (directly or, with
    ``api_trusted_proxies``, through a TLS-terminating proxy) or the setting says always."""
    return bool(request.app.state.settings.api.secure_cookies) or request.url.scheme == "https"


def install(app: FastAPI) -> None:
    """Mount the static files and add the page routes (kept out of the OpenAPI document)."""
    pages = Pages()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    declare_public(app, "/static")
    app.add_exception_handler(NeedLogin, pages.need_login)
    app.add_exception_handler(PageForbidden, pages.forbidden)
    app.state.html_error_page = pages.error_page
    admin = [Depends(require_page("admin"))]
    anybody = [Depends(public)]

    def services(request: Request) -> Any:
        return request.app.state.services

    @app.get("/", include_in_schema=False, dependencies=anybody)
    def home() -> RedirectResponse:
        return RedirectResponse("/people", status_code=303)

    @app.get("/login", include_in_schema=False, dependencies=anybody)
    def login_form(request: Request, next: str | None = None) -> Response:
        return pages.render(request, "login.html", next=_safe_next(next), bad=False)

    @app.post("/login", include_in_schema=False, dependencies=anybody)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        secret = str(form.get("key") or "").strip()[:200]
        target = _safe_next(str(form.get("next") or ""))
        keys = request.app.state.keys  # CachedKeyStore: the look-up runs off the loop
        key = await keys.authenticate_async(secret) if secret else None
        if key is None:
            return pages.render(request, "login.html", 401, next=target, bad=True)
        if key.scope not in PAGE_SCOPES:
            # A device's key: say why instead of letting it in to pages it cannot use.
            error = {"error_key": "login.device_key", "refused_scope": key.scope}
            return pages.render(request, "login.html", 403, next=target, bad=True, **error)
        if key.scope == "monitor" and not target.startswith("/live"):
            target = "/live"  # the only page a monitor key may see
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=secure_cookie(request),
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False, dependencies=anybody)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/lang/{code}", include_in_schema=False, dependencies=anybody)
    def switch_language(code: str, next: str | None = None) -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if code in LANGS:
            response.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 86400)
        return response

    @app.get("/people", include_in_schema=False, dependencies=admin)
    def people_page(request: Request, q: str | None = None, page: int = 1) -> Response:
        gallery = services(request).gallery
        page = max(1, min(page, 10**6))
        query = (q or "").strip()[:200] or None
        listing = gallery.list_people(query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        people = []
        for person in listing.items:
            faces = gallery.list_templates(person.id)
            thumb = next((f.id for f in faces if f.has_thumbnail), None)
            people.append({"person": person, "thumb": thumb})
        return pages.render(
            request,
            "people.html",
            people=people,
            total=listing.total,
            q=query or "",
            page=page,
            pages=max(1, -(-listing.total // PAGE_SIZE)),
        )

    @app.get("/people/{person_id}", include_in_schema=False, dependencies=admin)
    def person_page(request: Request, person_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        gallery = services(request).gallery
        try:
            person = gallery.get_person(person_id)
            faces = gallery.list_templates(person_id)
        except UnknownPerson:
            return pages.error_page(request, 404, "unknown_person", f"no person {person_id}")
        return pages.render(request, "person.html", person=person, faces=faces)

    @app.get("/enrol", include_in_schema=False, dependencies=admin)
    def enrol_page(
        request: Request, person: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    ) -> Response:
        return pages.render(request, "enrol.html", person_id=person)

    # Identifying shows names and candidates: an administrator's page (devices identify
    # through the API with their recognize key, and cannot sign in).
    @app.get("/identify", include_in_schema=False, dependencies=admin)
    def identify_page(request: Request) -> Response:
        return pages.render(request, "identify.html")
