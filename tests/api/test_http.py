"""HTTP behaviour that does not depend on the database backend: limits, overload, health,
metrics, auth switched off, the pages' session cookie."""

from __future__ import annotations

import base64
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from facegate.config import Settings
from tests.api.conftest import Api, start_api


def test_health_and_readiness(sqlite_api: Api):
    c = sqlite_api.client
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_metrics_count_requests_faces_and_gallery(sqlite_api: Api, people_dir: Path):
    api = sqlite_api
    person = api.create_person("Metrics Person")
    api.enrol(person["id"], people_dir / "Barack_Obama" / "fr_obama.jpg")
    assert api.identify(people_dir / "Barack_Obama" / "fr_obama2.jpg").status_code == 200
    text = api.client.get("/metrics").text
    assert re.search(
        r'facegate_http_requests_total\{method="POST",route="/api/v1/identify",status="200"\} 1\.0',
        text,
    )
    assert 'route="/api/v1/people/{person_id}/faces"' in text  # templates, not ids
    assert re.search(r'facegate_faces_processed_total\{operation="identify"\} [1-9]', text)
    assert re.search(r"facegate_gallery_templates [1-9]", text)
    assert "facegate_inference_queue_depth 0.0" in text
    assert "facegate_http_request_duration_seconds_bucket" in text


def test_one_error_shape_for_unknown_routes_and_methods(sqlite_api: Api):
    c = sqlite_api.client
    r = c.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = c.put("/api/v1/identify", headers=sqlite_api.recognize)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


@pytest.fixture(scope="module")
def small_api(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Iterator[Api]:
    """Limits sized around one dev photo (fr_john2.jpeg, ~70 kB)."""
    size = (faces_dir / "people" / "Kit_Harington" / "fr_john2.jpeg").stat().st_size
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("small"),
        api_max_request_bytes=size * 2,
        max_upload_bytes=size // 2,
        inference_threads=1,
        inference_max_queue=0,
        max_image_pixels=500_000,
    )
    yield from start_api(settings)


@pytest.mark.slow
def test_body_limit_is_enforced_while_reading(small_api: Api, faces_dir: Path):
    big = (faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg").read_bytes()  # > 2x limit
    c, h = small_api.client, small_api.recognize
    declared = c.post("/api/v1/identify", files={"image": ("a.jpg", big)}, headers=h)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 16384):
            yield big[start : start + 16384]

    streamed = c.post(
        "/api/v1/identify",
        content=chunks(),
        headers={**h, "content-type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "too_large"


def test_per_image_limit(small_api: Api, faces_dir: Path):
    photo = (faces_dir / "people" / "Kit_Harington" / "fr_john2.jpeg").read_bytes()
    c, h = small_api.client, small_api.recognize
    r = c.post("/api/v1/identify", files={"image": ("a.jpg", photo)}, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = c.post("/api/v1/identify", json={"image": base64.b64encode(photo).decode()}, headers=h)
    assert r.status_code == 413


def test_pixel_limit_is_checked_before_decoding(small_api: Api):
    """A 2000x2000 flat PNG is a few kB of bytes but 4 Mpx: refused from its header."""
    buf = io.BytesIO()
    Image.new("RGB", (2000, 2000), (200, 200, 200)).save(buf, format="PNG")
    assert len(buf.getvalue()) < small_api.settings.limits.max_upload_bytes
    r = small_api.client.post(
        "/api/v1/detect", files={"image": ("big.png", buf.getvalue())}, headers=small_api.recognize
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "image_too_large"


def test_full_inference_queue_answers_503(small_api: Api, faces_dir: Path):
    """One inference thread, no queue: while a job holds the thread, a request is shed."""
    services = small_api.app.state.services
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(30)

    holder = threading.Thread(target=services.inference.call, args=(hold,))
    holder.start()
    try:
        assert started.wait(10)
        tiny = (faces_dir / "people" / "Andre_Agassi" / "Andre_Agassi_0001.jpg").read_bytes()
        r = small_api.client.post(
            "/api/v1/detect", files={"image": ("a.jpg", tiny[:100])}, headers=small_api.recognize
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy"
        assert r.headers["retry-after"] == "1"
    finally:
        release.set()
        holder.join(10)


def test_no_auth_mode_needs_no_key(tmp_path: Path):
    # TestClient's Host is "testserver": allowed explicitly (only loopback names otherwise)
    settings = Settings(data_dir=tmp_path, api_auth=False, api_allowed_hosts=["testserver"])
    for api in start_api(settings):
        assert api.client.get("/api/v1/people").status_code == 200
        assert api.client.get("/people").status_code == 200  # pages open too


def test_pages_session_cookie(sqlite_api: Api):
    c = sqlite_api.client
    c.cookies.clear()
    first = c.get("/people", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login")
    bad = c.post("/login", data={"key": "fg_wrong", "next": "/people"}, follow_redirects=False)
    assert bad.status_code == 401
    ok = c.post(
        "/login",
        data={"key": sqlite_api.admin["X-API-Key"], "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/people"  # no open redirect
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/people").status_code == 200
    # the cookie authenticates the API for the pages' own calls...
    assert c.get("/api/v1/people").status_code == 200
    # ...but a change needs the page header, which a cross-site form cannot send
    r = c.post("/api/v1/people", json={"name": "Via Cookie"})
    assert r.status_code == 403
    r = c.post("/api/v1/people", json={"name": "Via Cookie"}, headers={"X-Facegate-Page": "1"})
    assert r.status_code == 201
    c.post("/logout")
    assert c.get("/people", follow_redirects=False).status_code == 303
    c.cookies.clear()


@pytest.mark.parametrize("scope", ["recognize", "checkin"])
def test_device_keys_cannot_sign_in_and_are_told_why(sqlite_api: Api, scope: str):
    c = sqlite_api.client
    c.cookies.clear()
    key = getattr(sqlite_api, scope)["X-API-Key"]
    r = c.post("/login", data={"key": key, "next": "/identify"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert f"device key (scope {scope})" in r.text
    assert c.get("/identify", follow_redirects=False).status_code == 303  # still signed out
    c.cookies.clear()


def test_monitor_key_sees_the_live_page_only(sqlite_api: Api):
    c = sqlite_api.client
    c.cookies.clear()
    r = c.post("/login", data={"key": sqlite_api.monitor["X-API-Key"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/live"
    assert c.get("/live").status_code == 200
    assert 'href="/people"' not in c.get("/live").text  # the navigation offers only Live
    for page in ("/people", "/identify", "/enrol", "/attendance"):
        assert c.get(page).status_code == 403, page
    c.cookies.clear()


def test_language_from_header_and_switch(sqlite_api: Api):
    c = sqlite_api.client
    c.cookies.clear()
    c.post("/login", data={"key": sqlite_api.admin["X-API-Key"]})
    zh = c.get("/enrol", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "录入人员" in zh.text and '<html lang="zh-CN">' in zh.text
    en = c.get("/enrol", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Enrol a person" in en.text
    c.get("/lang/zh", params={"next": "/enrol"})
    switched = c.get("/enrol", headers={"Accept-Language": "en-GB"})
    assert "录入人员" in switched.text  # the cookie wins over the browser's language
    c.cookies.clear()
