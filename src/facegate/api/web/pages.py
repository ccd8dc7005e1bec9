"""The admin pages: sign in, people, a person, enrol, identify.

Pages are rendered on the server from the gallery (lists, a person's faces); everything that
changes data or runs a model is done by the page's JavaScript calling the same ``/api/v1``
endpoints an integrator uses, authenticated by the session cookie set at sign-in. The cookie
holds the key the administrator typed (HttpOnly, SameSite=Strict, Secure over HTTPS, no
expiry: it ends with the browser session).
"""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from facegate.api.auth import SESSION_COOKIE
from facegate.api.keys import ApiKey, Scope
from facegate.api.schemas import MAX_ID
from facegate.api.web.i18n import LANG_COOKIE, LANGS, TEXTS, Lang, choose
from facegate.errors import UnknownPerson

HERE = FilePath(__file__).parent
PAGE_SIZE = 48


class _NeedLogin(Exception):
    """Raised inside a page handler to send the browser to the sign-in page."""


def _lang(request: Request) -> Lang:
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a link send the user elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/people"
    return target


def _page_key(request: Request, scope: Scope) -> tuple[ApiKey | None, bool]:
    """(key, allowed). Raises ``_NeedLogin`` when there is no valid session."""
    if not request.app.state.settings.api_auth:
        return None, True
    secret = request.cookies.get(SESSION_COOKIE)
    key = request.app.state.keys.authenticate(secret) if secret else None
    if key is None:
        raise _NeedLogin
    return key, key.allows(scope)


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

        auth = request.app.state.settings.api_auth
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
                **context,
            },
            status_code=status,
        )

    def gate(self, request: Request, scope: Scope) -> Response | None:
        """None when the session may see a page needing ``scope``; otherwise the answer to
        send instead (to the sign-in page, or 403)."""
        try:
            _, allowed = _page_key(request, scope)
        except _NeedLogin:
            here = request.url.path + ("?" + request.url.query if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(here)}", status_code=303)
        if not allowed:
            return self.render(request, "error.html", 403, message_key="error.forbidden")
        return None


def install(app: FastAPI) -> None:
    """Mount the static files and add the page routes (kept out of the OpenAPI document)."""
    pages = Pages()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def services(request: Request) -> Any:
        return request.app.state.services

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/people", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> Response:
        return pages.render(request, "login.html", next=_safe_next(next), bad=False)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        secret = str(form.get("key") or "").strip()
        target = _safe_next(str(form.get("next") or ""))
        keys = request.app.state.keys  # CachedKeyStore: the look-up runs off the loop
        key = await keys.authenticate_async(secret) if secret else None
        if key is None:
            return pages.render(request, "login.html", 401, next=target, bad=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/lang/{code}", include_in_schema=False)
    def switch_language(code: str, next: str | None = None) -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if code in LANGS:
            response.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 86400)
        return response

    @app.get("/people", include_in_schema=False)
    def people_page(request: Request, q: str | None = None, page: int = 1) -> Response:
        if (denied := pages.gate(request, "admin")) is not None:
            return denied
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

    @app.get("/people/{person_id}", include_in_schema=False)
    def person_page(request: Request, person_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        if (denied := pages.gate(request, "admin")) is not None:
            return denied
        gallery = services(request).gallery
        try:
            person = gallery.get_person(person_id)
            faces = gallery.list_templates(person_id)
        except UnknownPerson:
            return pages.render(request, "error.html", 404, message=f"no person {person_id}")
        return pages.render(request, "person.html", person=person, faces=faces)

    @app.get("/enrol", include_in_schema=False)
    def enrol_page(
        request: Request, person: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    ) -> Response:
        return pages.gate(request, "admin") or pages.render(request, "enrol.html", person_id=person)

    @app.get("/identify", include_in_schema=False)
    def identify_page(request: Request) -> Response:
        return pages.gate(request, "recognize") or pages.render(request, "identify.html")
