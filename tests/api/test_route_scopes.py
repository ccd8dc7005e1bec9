"""Deny by default, checked two ways against the committed table tests/api/route_scopes.json.

1. The app's own declarations (``facegate.api.access.route_access``) must equal the table, and
   an app with an undeclared route must refuse to be built and to start.
2. A real ``facegate serve`` is called on every route of the table (API, pages, MJPEG, the
   WebSocket and the TCP stream port) with no key, a key of each scope and a revoked key; each
   answer must be what the table says: a public route answers every caller alike; a scoped
   one admits keys allowing its scope (``admin`` allows all) and refuses the others with 403,
   and a missing or revoked key with 401 (pages: to the sign-in page).

A new route without a declaration fails 1 (with a message saying what to add); a route whose
declaration differs from the table fails 1 too; a declaration that is not enforced fails 2.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from facegate.api import create_app
from facegate.api.access import UndeclaredRoute, check_declared, route_access
from facegate.api.keys import SCOPES
from facegate.config import Settings
from facegate.stream import Client
from facegate.stream.client import StreamError
from tests.serving import free_port, new_key, revoke_key, serving

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TABLE_FILE = Path(__file__).with_name("route_scopes.json")
TABLE: dict[str, str] = {
    k: v for k, v in json.loads(TABLE_FILE.read_text()).items() if not k.startswith("_")
}
PARAMS = {"person_id": "1", "template_id": "1", "event_id": "1", "name": "nope", "code": "en",
          "path": "app.css", "person": "1", "holiday_id": "1", "rule_id": "1",
          "day": "2026-11-02", "shift_id": "1"}  # fmt: skip
CALLERS = ("none", "revoked", *SCOPES)


def test_the_apps_declarations_are_the_committed_table(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path))
    declared = route_access(app)
    http_rows = {k: v for k, v in TABLE.items() if not k.startswith("TCP ")}
    missing = sorted(set(declared) - set(http_rows))
    assert not missing, f"routes missing from {TABLE_FILE.name}: {missing}"
    assert declared == http_rows


def test_a_route_without_a_declaration_stops_the_app(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    with pytest.raises(UndeclaredRoute) as error:
        check_declared(app)
    message = str(error.value)
    assert "GET /api/v1/forgotten" in message and "route_scopes.json" in message
    assert "require('admin')" in message
    with pytest.raises(UndeclaredRoute), TestClient(app):
        pass  # the lifespan checks again: it never serves


def allows(scope: str, access: str) -> bool:
    return access == "public" or scope == "admin" or scope == access


def outcome(r: httpx.Response) -> str:
    """What an answer means for access: ok, unauthenticated or forbidden."""
    if r.status_code == 401:
        return "unauthenticated"
    if r.status_code == 403:
        return "forbidden"
    if r.status_code == 303 and r.headers["location"].startswith("/login?next="):
        return "unauthenticated"  # a page sends a caller without a session to sign in
    assert r.status_code < 500, r.text
    return f"ok {r.status_code}"


def expected(caller: str, access: str) -> str | None:
    """None: ok (any answer that is not a refusal)."""
    if caller in ("none", "revoked"):
        return "unauthenticated"
    return None if allows(caller, access) else "forbidden"


@dataclass(frozen=True)
class ScopeServer:
    """A running ``facegate serve``: its base URL, a key per caller, its stream port."""

    base: str
    keys: dict[str, str]
    stream_port: int


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScopeServer]:
    data = tmp_path_factory.mktemp("scopes")
    keys: dict[str, str] = {scope: new_key(data, scope)[1] for scope in SCOPES}
    revoked_id, keys["revoked"] = new_key(data, "admin")
    revoke_key(data, revoked_id)
    port, stream_port = free_port(), free_port()
    env = {"FACEGATE_INFERENCE_THREADS": "1"}
    with serving(data, port, "--stream-port", str(stream_port), env=env) as base:
        yield ScopeServer(base, keys, stream_port)


def call(server: ScopeServer, route: str, caller: str) -> str:
    method, template = route.split(" ", 1)
    path = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], template)
    key = server.keys.get(caller)
    base = server.base
    if method == "WS":
        headers = {"X-API-Key": key} if key else {}
        try:
            with ws_connect(base.replace("http://", "ws://") + path, additional_headers=headers):
                return "ok 101"
        except InvalidStatus as refused:
            answer = refused.response  # websockets' own Response: read as httpx's
            raw = list(answer.headers.raw_items())
            return outcome(
                httpx.Response(answer.status_code, headers=raw, content=bytes(answer.body))
            )
    if method == "TCP":
        try:
            port = server.stream_port
            with Client("127.0.0.1", port, key or "fg_no-key", "scopes"):
                return "ok welcome"
        except StreamError as error:
            assert error.code in ("unauthorized", "forbidden"), error
            return "unauthenticated" if caller in ("none", "revoked") else "forbidden"
    # A key goes both as header (API) and as the pages' session cookie (pages read only that).
    headers = {"X-API-Key": key} if key else {}
    cookies = {"facegate_session": key} if key else {}
    body: dict[str, object] | None = {} if method in ("POST", "PATCH", "PUT") else None
    with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
        r = client.request(method, path, headers=headers, json=body, follow_redirects=False)
    return outcome(r)


@pytest.mark.parametrize("route", sorted(TABLE))
def test_every_route_answers_each_caller_as_the_table_says(server: ScopeServer, route: str) -> None:
    access = TABLE[route]
    got = {caller: call(server, route, caller) for caller in CALLERS}
    if access == "public":
        assert len(set(got.values())) == 1, got  # nobody is told apart
        return
    for caller, answer in got.items():
        want = expected(caller, access)
        if want is None:
            assert answer.startswith("ok"), (caller, got)
        else:
            assert answer == want, (caller, got)
