"""``/docs``: the OpenAPI page, served with Swagger UI's files from an installed package.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, which leaves a blank page on a site
without internet access (and is slow or blocked in China). The same page is built here with
the assets of the ``swagger-ui-bundle`` package under ``/docs-assets``; nothing is fetched
from outside, so the page's CSP (api/security.py) names no other host.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from facegate.api.access import declare_public, public

DOCS_PATH = "/docs"
ASSETS = "/docs-assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect page and ``/docs-assets`` (all public)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    declare_public(app, ASSETS)
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False, dependencies=[Depends(public)])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False, dependencies=[Depends(public)])
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
