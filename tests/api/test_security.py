"""The HTTP edge on a real ``facegate serve``: security headers, the session cookie behind a
TLS proxy, secrets kept out of answers and logs (camera URLs from a cameras file, webhook
URLs, query strings), a malformed ``FACEGATE_CAMERAS``, and ``--no-auth`` fenced to loopback
hosts and same-origin writes."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from facegate.api.security import CSP, host_name
from facegate.config import Settings
from tests.api.conftest import start_api
from tests.serving import FACEGATE, free_port, new_key, serving

PASSWORD = "p@ss/w0rd"  # unescaped '@' and '/': what a strict parser would partly show
QUERY_SECRET = "qu3ry-s3cret"
TOKEN = "t0ken-in-the-path"
CAMERA_URL = f"rtsp://admin:{PASSWORD}@127.0.0.1:9/stream?user=admin&pwd={QUERY_SECRET}&ch=1"
SECRETS = (PASSWORD, "w0rd", QUERY_SECRET, TOKEN, "hook-pass")


class Hooks(BaseHTTPRequestHandler):
    """A webhook receiver: remembers the paths it was called on."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Hooks.received.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://hook-user:hook-pass@127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, receiver: str) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("security")
    cameras = data / "cameras.json"
    cameras.write_text(json.dumps([{"name": "gate", "source": CAMERA_URL, "always_on": True}]))
    cameras.chmod(0o600)
    keys = {scope: new_key(data, scope)[1] for scope in ("admin", "monitor", "checkin")}
    env = {
        "FACEGATE_INFERENCE_THREADS": "1",
        "FACEGATE_API_TRUSTED_PROXIES": '["127.0.0.1"]',
        "FACEGATE_ATTENDANCE_WEBHOOK_URLS": json.dumps([f"{receiver}/hook/{TOKEN}?sig=x"]),
        "FACEGATE_ATTENDANCE_CAMERAS": '{"front": "in"}',
    }
    args = ("--no-stream", "--cameras-file", str(cameras), "--log-level", "info")
    with serving(data, free_port(), *args, env=env) as base:
        yield {"base": base, "keys": keys, "log": data / "server.log"}


def test_every_answer_has_the_security_headers(served: dict[str, Any]):
    admin = {"X-API-Key": served["keys"]["admin"]}
    with httpx.Client(base_url=served["base"]) as c:
        answers = [
            c.get("/healthz"),
            c.get("/login"),
            c.get("/people"),  # a redirect
            c.get("/api/v1/people"),  # 401
            c.get("/api/v1/people", headers=admin),
            c.get("/static/app.css"),
            c.get("/nowhere"),  # 404
        ]
        for r in answers:
            assert r.headers["content-security-policy"] == CSP, r.url
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP
        docs = c.get("/docs")  # Swagger UI from this server: an inline start-up script only
        policy = docs.headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline';" in policy and "https:" not in policy
        assert "/docs-assets/swagger-ui-bundle.js" in docs.text and "https://" not in docs.text
        assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy(served: dict[str, Any]):
    form = {"key": served["keys"]["admin"]}
    with httpx.Client(base_url=served["base"]) as c:
        plain = c.post("/login", data=form)
        assert plain.status_code == 303 and "secure" not in plain.headers["set-cookie"].lower()
        proxied = c.post("/login", data=form, headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 303
        assert "; secure" in proxied.headers["set-cookie"].lower()


def test_camera_urls_are_masked_and_secrets_stay_out_of_the_log(
    served: dict[str, Any], faces_dir: Path
):
    base, keys = served["base"], served["keys"]
    monitor, admin = {"X-API-Key": keys["monitor"]}, {"X-API-Key": keys["admin"]}
    streams = httpx.get(f"{base}/api/v1/live/streams", headers=monitor).json()["streams"]
    [gate] = [s for s in streams if s["name"] == "gate"]
    assert gate["source"] == "rtsp://***@127.0.0.1:9/stream?user=***&pwd=***&ch=1"
    # a check-in makes a webhook delivery (httpx would log its URL at INFO)
    photos = sorted((faces_dir / "people" / "Barack_Obama").iterdir())
    person = httpx.post(f"{base}/api/v1/people", json={"name": "Obama"}, headers=admin).json()
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[:2]]
    enrol = f"{base}/api/v1/people/{person['id']}/faces"
    assert httpx.post(enrol, files=files, headers=admin, timeout=60).status_code == 200
    image = {"image": (photos[2].name, photos[2].read_bytes(), "image/jpeg")}
    checkin = httpx.post(
        f"{base}/api/v1/attendance/checkin", files=image, data={"camera": "front"},
        headers={"X-API-Key": keys["checkin"]}, timeout=60,
    )  # fmt: skip
    assert checkin.status_code == 200 and checkin.json()["checkins"][0]["recorded"]
    # a query string in the access log
    assert httpx.get(f"{base}/healthz", params={"token": QUERY_SECRET}).status_code == 200
    deadline = time.monotonic() + 60
    while not Hooks.received:
        assert time.monotonic() < deadline, "the webhook was never delivered"
        time.sleep(0.2)
    assert Hooks.received[0].startswith(f"/hook/{TOKEN}")  # delivered to the real URL
    log = served["log"].read_text()
    assert "GET /healthz HTTP/1.1" in log  # the access log is on...
    assert "gate" in log and "rtsp://***@127.0.0.1:9" in log  # ...and the camera is logged
    for secret in SECRETS:
        assert secret not in log, secret


def test_a_malformed_cameras_setting_never_prints_the_password(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")}
    for bad in (
        json.dumps({"name": "gate", "source": CAMERA_URL}),  # an object, not a list
        json.dumps([{"name": "no spaces allowed", "source": CAMERA_URL}]),
        json.dumps([{"name": "gate", "source": CAMERA_URL, "unknown": 1}]),
        '[{"name": "gate", "source": "' + CAMERA_URL,  # not even JSON
    ):
        env["FACEGATE_CAMERAS"] = bad
        run = subprocess.run(
            [str(FACEGATE), "serve", "--data-dir", str(tmp_path), "--port", str(free_port())],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode != 0 and "cameras" in output, output
        for secret in (PASSWORD, "w0rd", QUERY_SECRET):
            assert secret not in output, output


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("noauth")
    env = {"FACEGATE_API_ALLOWED_HOSTS": '["facegate.lan"]'}
    with serving(data, free_port(), "--no-auth", "--no-stream", env=env) as base:
        yield base


def test_no_auth_serves_only_loopback_hosts_and_same_origin_writes(open_server: str):
    port = open_server.rsplit(":", 1)[1]
    with httpx.Client(base_url=open_server) as c:
        assert c.get("/api/v1/people").status_code == 200  # Host 127.0.0.1
        assert c.get("/api/v1/people", headers={"Host": f"localhost:{port}"}).status_code == 200
        assert c.get("/api/v1/people", headers={"Host": "facegate.lan"}).status_code == 200
        rebound = c.get("/api/v1/people", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403 and "api_allowed_hosts" in rebound.text
        body = {"name": "Mallory's Victim"}
        forged = c.post("/api/v1/people", json=body, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403
        same = c.post("/api/v1/people", json=body, headers={"Origin": open_server})
        assert same.status_code == 201  # the pages themselves
        assert c.post("/api/v1/people", json=body).status_code == 201  # curl: no Origin
        names = [p["name"] for p in c.get("/api/v1/people").json()["people"]]
        assert names.count(body["name"]) == 2  # the forged one was never created


@pytest.mark.parametrize(
    ("host", "name"),
    [("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "[::1]"), ("LocalHost", "localhost"),
     ("::1", "::1"), ("box.lan:80", "box.lan")],
)  # fmt: skip
def test_host_names_lose_their_port(host: str, name: str):
    assert host_name(host) == name


def test_secure_cookies_setting_marks_the_cookie_without_a_proxy(tmp_path: Path):
    for api in start_api(Settings(data_dir=tmp_path, api_secure_cookies=True)):
        r = api.client.post("/login", data={"key": api.admin["X-API-Key"]},
                            follow_redirects=False)  # fmt: skip
        assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()
