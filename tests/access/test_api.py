"""The access API on the real app (real models, SQLite and PostgreSQL): configuration CRUD,
bad input answered 4xx, and the whole path from a dev video streamed over TCP to a door
camera to the decision in ``GET /api/v1/access/events``."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facegate.api import create_app
from facegate.api.serve_hooks import serve_hooks
from facegate.config import Settings
from facegate.stream.hook import StreamServerHook
from tests.access.streaming import stream_video, wait_for_events
from tests.api.conftest import Api
from tests.pg import create_database, drop_database
from tests.stream.conftest import video_frames

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAMES = 45  # 1.5 s of video: enough for a track to be confirmed


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, int]]:
    """The app as ``facegate serve`` builds it (with the TCP stream server): (api, port)."""
    url, admin_url = None, None
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "acc_api")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("acc-api"),
        database_url=url,
        stream_port=0,
        access_timezone="Asia/Shanghai",
        access_refresh_s=0.2,
    )
    hooks = serve_hooks(settings)
    app = create_app(settings, hooks=hooks)
    try:
        with TestClient(app) as client:
            _, admin = app.state.keys.create("admin", "tests")
            _, recognize = app.state.keys.create("recognize", "tests")
            _, monitor = app.state.keys.create("monitor", "tests")
            _, checkin = app.state.keys.create("checkin", "tests")
            stream = hooks[0]
            assert isinstance(stream, StreamServerHook) and stream.server is not None
            api = Api(
                client,
                settings,
                *({"X-API-Key": key} for key in (admin, recognize, monitor, checkin)),
            )
            yield api, stream.server.port
    finally:
        if admin_url is not None:
            drop_database(admin_url, "acc_api")


def call(api: Api, method: str, path: str, **kw: Any) -> Any:
    headers = {**api.admin, **kw.pop("headers", {})}
    return api.client.request(method, path, headers=headers, **kw)


def test_configuration_crud_and_bad_input(served: tuple[Api, int]):
    api, _ = served
    relay = {"url": "http://relay.local/x", "headers": {"Authorization": "Bearer s3cret"}}
    cameras = [{"camera": "crud-in"}, {"camera": "crud-out", "direction": "out"}]
    body = {"name": "crud-door", "cameras": cameras, "liveness": "passive", "undecided": "allow"}
    r = call(api, "POST", "/api/v1/access/doors", json={**body, "outputs": {"relay": relay}})
    assert r.status_code == 201, r.text
    door = r.json()
    assert door["liveness"] == "passive" and door["cameras"][1] == {
        "camera": "crud-out",
        "direction": "out",
    }
    assert "s3cret" not in r.text  # secrets are never shown
    assert call(api, "POST", "/api/v1/access/doors", json={"name": "crud-door"}).status_code == 409
    assert (
        call(
            api,
            "POST",
            "/api/v1/access/doors",
            json={"name": "other", "cameras": [{"camera": "crud-in"}]},
        ).status_code
        == 409
    )
    r = call(
        api,
        "PATCH",
        "/api/v1/access/doors/crud-door",
        json={"anti_passback": True, "enabled": False},
    )
    assert r.json()["anti_passback"] is True and r.json()["enabled"] is False
    assert call(api, "GET", "/api/v1/access/doors/nope").status_code == 404
    assert (
        call(api, "POST", "/api/v1/access/groups", json={"name": "crud-group"}).status_code == 201
    )
    person = api.create_person("Crud Person")
    r = call(
        api, "POST", "/api/v1/access/groups/crud-group/members", json={"person": "Crud Person"}
    )
    assert r.json()["members"] == [{"id": person["id"], "name": "Crud Person"}]
    assert (
        call(
            api, "POST", "/api/v1/access/groups/crud-group/members", json={"person": 10**6}
        ).status_code
        == 404
    )
    r = call(
        api,
        "POST",
        "/api/v1/access/rules",
        json={
            "door": "crud-door",
            "group": "crud-group",
            "days": "mon-fri",
            "from": "08:00",
            "to": "18:00",
        },
    )
    assert r.status_code == 201 and r.json()["days"] == "mon,tue,wed,thu,fri"
    rule_id = r.json()["id"]
    for bad in (
        {"days": "someday"},
        {"from": "25:00"},
        {"from": "08:00", "to": "08:00"},
        {"door": "nope"},
        {"extra": 1},
    ):
        rule: dict[str, object] = {"door": "crud-door", "group": "crud-group", **bad}
        assert call(api, "POST", "/api/v1/access/rules", json=rule).status_code in (404, 422), bad
    r = call(
        api, "POST", "/api/v1/access/holidays", json={"date": "2026-10-01", "name": "National Day"}
    )
    assert r.status_code == 201
    assert (
        call(api, "POST", "/api/v1/access/holidays", json={"date": "9999-01-01"}).status_code == 422
    )
    r = call(
        api,
        "PUT",
        f"/api/v1/access/people/{person['id']}",
        json={"valid_until": "2026-12-31T18:00:00", "blocked": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["valid_until"] == "2026-12-31T10:00:00+00:00"  # site time is Shanghai
    assert r.json()["blocked"] is True and r.json()["groups"] == ["crud-group"]
    r = call(api, "PUT", f"/api/v1/access/people/{person['id']}", json={"valid_until": None})
    assert r.json()["valid_until"] is None and r.json()["blocked"] is True
    assert call(api, "GET", "/api/v1/access/people/999999").status_code == 404
    for query in ("?limit=0", "?since=yesterday", "?decision=maybe",
                  "?since=0001-01-01T00:00:00", "/0/snapshot", "/5/snapshot"):  # fmt: skip
        assert call(api, "GET", "/api/v1/access/events" + query).status_code in (404, 422), query
    assert api.client.get("/api/v1/access/doors", headers=api.recognize).status_code == 403
    assert api.client.get("/api/v1/access/events").status_code == 401
    assert call(api, "DELETE", f"/api/v1/access/rules/{rule_id}").status_code == 200
    assert (
        call(api, "DELETE", "/api/v1/access/groups/crud-group/members/Crud Person").status_code
        == 200
    )
    assert call(api, "DELETE", "/api/v1/access/groups/crud-group").status_code == 200
    assert call(api, "DELETE", "/api/v1/access/doors/crud-door").status_code == 200
    assert call(api, "DELETE", "/api/v1/access/doors/crud-door").status_code == 404


@pytest.mark.slow
def test_video_at_door_cameras_to_decisions(served: tuple[Api, int], faces_dir: Path):
    api, port = served
    obama = api.create_person("Barack_Obama")
    api.enrol(obama["id"], *sorted((faces_dir / "people" / "Barack_Obama").iterdir()))
    for body in (
        {"name": "front", "cameras": [{"camera": "front-cam"}]},
        {"name": "side", "cameras": [{"camera": "side-cam"}]},
    ):
        assert call(api, "POST", "/api/v1/access/doors", json=body).status_code == 201
    call(api, "POST", "/api/v1/access/groups", json={"name": "staff"})
    call(api, "POST", "/api/v1/access/groups/staff/members", json={"person": obama["id"]})
    r = call(api, "POST", "/api/v1/access/rules", json={"door": "front", "group": "staff"})
    assert r.status_code == 201
    obama_frames = video_frames(faces_dir / "videos" / "obama.mp4", FRAMES)
    access = api.app.state.access_hook.access
    access.directory.refresh()  # the directory re-reads every 0.2 s here; do not race it

    results = stream_video(port, api.recognize["X-API-Key"], "front-cam", obama_frames)
    confirmed = [r for r in results if any(f.confirmed and f.person for f in r.faces)]
    assert confirmed, "Obama was never confirmed"
    [event] = wait_for_events(lambda *a, **k: call(api, "GET", *a, **k), "front", 1)
    assert (event["door"], event["camera"], event["direction"]) == ("front", "front-cam", "in")
    assert event["person"] == {"id": obama["id"], "name": "Barack_Obama"}
    assert (event["decision"], event["reason"]) == ("granted", "rule")
    assert event["score"] > 0.4 and event["has_snapshot"] and event["liveness"] == "live (off)"
    # decided on the first frame that showed him confirmed: its capture time is the event's
    assert event["captured"] == pytest.approx(confirmed[0].timestamps.captured, abs=1e-3)
    snap = call(api, "GET", event["snapshot_url"])
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"

    stream_video(port, api.recognize["X-API-Key"], "side-cam", obama_frames)
    [event] = wait_for_events(lambda *a, **k: call(api, "GET", *a, **k), "side", 1)
    assert (event["decision"], event["reason"]) == ("denied", "not_in_group")

    biden = video_frames(faces_dir / "videos" / "biden.mp4", FRAMES)  # nobody enrolled as Biden
    stream_video(port, api.recognize["X-API-Key"], "front-cam", biden)
    events = wait_for_events(lambda *a, **k: call(api, "GET", *a, **k), "front", 2)
    assert [(e["decision"], e["reason"], e["alarm"], e["person"]) for e in events] == [
        ("denied", "unknown_person", "stranger", None),
        ("granted", "rule", None, {"id": obama["id"], "name": "Barack_Obama"}),
    ]  # newest first
    r = call(api, "GET", "/api/v1/access/events", params={"decision": "denied", "limit": 1})
    page = r.json()
    assert page["total"] == 2 and len(page["events"]) == 1 and page["limit"] == 1
    r = call(
        api,
        "GET",
        "/api/v1/access/events",
        params={"door": "front"},
        headers={"Accept": "text/csv"},
    )
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["door"], x["decision"], x["reason"]) for x in rows] == [
        ("front", "denied", "unknown_person"), ("front", "granted", "rule"),
    ]  # fmt: skip
    assert rows[1]["local_time"].endswith("+08:00")
    # deleting the person erases their door events and snapshots
    assert call(api, "DELETE", f"/api/v1/people/{obama['id']}").status_code in (200, 204)
    left = call(api, "GET", "/api/v1/access/events").json()
    assert [e["reason"] for e in left["events"]] == ["unknown_person"]
