"""The attendance API, pages and CLI on the real app (real models, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app as cli_app
from facegate.config import Settings
from facegate.events import EventKind, RecognitionEvent
from tests.api.conftest import Api, start_api
from tests.images import decode_jpeg
from tests.pg import create_database, drop_database

SHANGHAI = "Asia/Shanghai"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    url, admin_url = None, None
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "att_api")
    yield Settings(
        data_dir=tmp_path_factory.mktemp("att-api"),
        database_url=url,
        attendance_timezone=SHANGHAI,
        attendance_cameras={"front": "in", "back": "out"},
    )
    if admin_url is not None:
        drop_database(admin_url, "att_api")


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[Api]:
    yield from start_api(settings)


@pytest.fixture(scope="module")
def obama(api: Api, faces_dir: Path) -> tuple[int, Path]:
    """Barack Obama enrolled from three photos; a fourth one to check in with."""
    photos = sorted((faces_dir / "people" / "Barack_Obama").iterdir())
    person = api.create_person("Barack Obama", external_id="BO-44")
    api.enrol(person["id"], *photos[:3])
    return person["id"], photos[3]


def checkin(api: Api, photo: Path, **fields: str) -> Any:
    r = api.client.post(
        "/api/v1/attendance/checkin",
        files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        data=fields,
        headers=api.checkin,
    )
    assert r.status_code == 200, r.text
    return r.json()


def events(api: Api, **params: Any) -> dict[str, Any]:
    r = api.client.get("/api/v1/attendance/events", params=params, headers=api.admin)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


@pytest.mark.slow
def test_checkin_logs_each_known_face_once_per_cooldown(api: Api, obama: tuple[int, Path]):
    person_id, photo = obama
    first = checkin(api, photo, camera="front")
    [face] = first["checkins"]
    assert face["person"]["id"] == person_id and face["recorded"]
    assert face["event"]["kind"] == "checkin" and face["event"]["direction"] == "in"
    again = checkin(api, photo, camera="front")
    assert not again["checkins"][0]["recorded"]
    assert again["checkins"][0]["suppressed_by"] == face["event"]["id"]
    other = checkin(api, photo, camera="back")  # another camera: its own cooldown
    assert other["checkins"][0]["event"]["direction"] == "out"
    assert events(api, person_id=person_id, camera="front")["total"] == 1
    assert events(api, person_id=person_id)["total"] == 2
    snap = api.client.get(
        f"/api/v1/attendance/events/{face['event']['id']}/snapshot", headers=api.admin
    )
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"
    # the same size as the snapshots the stream announcer writes to this column
    from facegate.engine.thumbnail import SNAPSHOT_SIDE

    pixels = decode_jpeg(snap.content)
    assert max(pixels.shape[:2]) == SNAPSHOT_SIDE, pixels.shape
    # reading the log is for administrators; a kiosk's checkin key may only check in
    for key in (api.checkin, api.recognize, api.monitor):
        denied = api.client.get("/api/v1/attendance/events", headers=key)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    image = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    bad = api.client.post(
        "/api/v1/attendance/checkin", files=image, data={"direction": "sideways"},
        headers=api.checkin,
    )  # fmt: skip
    assert bad.status_code == 422
    # a camera's recognize key cannot log attendance; nobody can invent camera names
    refused = api.client.post("/api/v1/attendance/checkin", files=image, headers=api.recognize)
    assert refused.status_code == 403
    before = events(api, person_id=person_id)["total"]
    for key in (api.checkin, api.admin):
        invented = api.client.post(
            "/api/v1/attendance/checkin", files=image, data={"camera": "made-up"}, headers=key
        )
        assert invented.status_code == 422 and "not configured" in invented.text
    assert events(api, person_id=person_id)["total"] == before


def test_daily_report_and_csv_exports(api: Api, obama: tuple[int, Path]):
    person_id, photo = obama
    checkin(api, photo, camera="front")  # maybe suppressed by the test above: same day anyway
    missing = api.create_person("Nobody Came")
    today = events(api, person_id=person_id)["items"][-1]["at"]
    day = (datetime.fromisoformat(today) + timedelta(hours=8) - timedelta(hours=4)).date()
    r = api.client.get("/api/v1/attendance/daily", params={"date": str(day)}, headers=api.admin)
    assert r.status_code == 200, r.text
    report = r.json()
    by_id = {p["person"]["id"]: p for p in report["people"]}
    assert by_id[person_id]["status"] == "present"
    assert by_id[person_id]["first_in"].endswith("+08:00")
    assert by_id[missing["id"]]["status"] == "missing" and by_id[missing["id"]]["first_in"] is None
    assert report["timezone"] == SHANGHAI
    daily_csv = api.client.get(
        "/api/v1/attendance/daily", params={"date": str(day), "format": "csv"}, headers=api.admin
    )
    assert daily_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(daily_csv.text)))
    assert {r["name"]: r["status"] for r in rows}["Nobody Came"] == "missing"
    assert {r["name"]: r["external_id"] for r in rows}["Barack Obama"] == "BO-44"
    events_csv = api.client.get(
        "/api/v1/attendance/events",
        params={"date": str(day), "format": "csv"},
        headers=api.admin,
    )
    logged = list(csv.DictReader(io.StringIO(events_csv.content.decode("utf-8-sig"))))
    assert logged and all(r["working_day"] == str(day) for r in logged)
    assert {r["camera"] for r in logged} >= {"front"}
    empty = api.client.get("/api/v1/attendance/daily?date=1999-01-01", headers=api.admin).json()
    assert empty["present"] == 0
    assert (
        api.client.get("/api/v1/attendance/daily?date=0001-01-01", headers=api.admin).status_code
        == 422
    )


def test_pages_show_the_board_and_history(api: Api, obama: tuple[int, Path]):
    person_id, photo = obama
    checkin(api, photo, camera="front")
    api.client.cookies.set("facegate_session", api.admin["X-API-Key"])
    try:
        board = api.client.get("/attendance")
        assert board.status_code == 200
        assert "Barack Obama" in board.text and 'id="att-chart"' in board.text
        assert 'data-count="1"' in board.text  # one arrival in some hour of the chart
        assert "format=csv" in board.text
        api.client.cookies.set("facegate_lang", "zh")
        zh = api.client.get("/attendance")
        assert "每小时到达人数" in zh.text and "未到人员" in zh.text
        history = api.client.get(f"/attendance/people/{person_id}")
        assert history.status_code == 200 and "考勤历史" in history.text
        assert f"/api/v1/attendance/events?person_id={person_id}" in history.text
        assert api.client.get("/attendance/people/999999").status_code == 404
    finally:
        api.client.cookies.clear()


@pytest.mark.slow
def test_recorder_logs_published_events_and_a_restart_keeps_them(
    settings: Settings, tmp_path: Path
):
    # SQLite: a database of its own; PostgreSQL: the module's (counted per person below)
    fresh = settings.replace(data_dir=tmp_path)
    first = start_api(fresh)
    api = next(first)
    person = api.create_person("Walker")
    bus = api.app.state.services.events
    base = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def sighting(
        minutes: float, kind: EventKind = "confirmed", camera: str = "front"
    ) -> RecognitionEvent:
        at = base + timedelta(minutes=minutes)
        return RecognitionEvent(kind, camera, at, 3, person["id"], "Walker", 0.8)

    for event in (
        sighting(0),
        sighting(1),  # inside the cooldown: one walk, one event
        sighting(30),
        sighting(40, camera="back"),
        sighting(50, kind="checkin"),  # check-ins are logged by their endpoint, not here
        RecognitionEvent("unknown", "front", base, 9, None, None, 0.1),  # off by default
    ):
        bus.publish(event)
    recorder = api.app.state.attendance_hook.recorder
    deadline = time.monotonic() + 30
    while recorder.recorded + recorder.suppressed < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.close()  # the app stops (the recorder drains its queue first)
    assert recorder.recorded == 3 and recorder.suppressed == 1
    second = start_api(fresh)  # a restart: new Services and app on the same database
    try:
        again = next(second)
        logged = events(again, person_id=person["id"])
        assert logged["total"] == 3
        assert [e["camera"] for e in logged["items"]] == ["back", "front", "front"]
        assert [e["direction"] for e in logged["items"]] == ["out", "in", "in"]
        assert events(again, kind="unknown")["total"] == 0
    finally:
        second.close()


def test_cli_report(api: Api, settings: Settings, obama: tuple[int, Path]):
    _, photo = obama
    checkin(api, photo, camera="front")
    day = (
        datetime.now(UTC) + timedelta(hours=4)
    ).date()  # the working day in Shanghai (UTC+8, day starts 04:00)
    env = {"FACEGATE_ATTENDANCE_TIMEZONE": SHANGHAI}
    args = ["attendance", "report", "--data-dir", str(settings.storage.data_dir)]
    if settings.storage.database_url:
        args += ["--database-url", settings.storage.database_url]
    runner = CliRunner()
    result = runner.invoke(cli_app, [*args, "--date", str(day), "--csv"], env=env)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert rows["Barack Obama"]["status"] == "present"
    text = runner.invoke(cli_app, [*args, "--date", str(day)], env=env)
    assert "Barack Obama" in text.output and "present" in text.output
    bad = runner.invoke(cli_app, [*args, "--date", "yesterday"], env=env)
    assert bad.exit_code == 2


def test_events_csv_is_streamed_in_pages_and_capped(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads the log a page at a time (pages of 3 here) into one CSV with one
    header, the same events in the same order as the JSON list, and stops at the row cap."""
    from facegate.api.routes import log_queries
    from facegate.attendance.store import NewEvent

    store = api.app.state.attendance_hook.attendance.store
    base = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for i in range(10):
        store.record(NewEvent("unknown", "csvcam", "in", base + timedelta(minutes=i), 0.1))
    listed = [e["id"] for e in events(api, camera="csvcam", limit=100)["items"]]
    assert len(listed) == 10

    monkeypatch.setattr(log_queries, "CSV_PAGE_ROWS", 3)
    pages: list[tuple[int, int]] = []
    original = store.events

    def counting(**query: Any) -> Any:
        pages.append((query["limit"], query["offset"]))
        return original(**query)

    monkeypatch.setattr(store, "events", counting)
    params = {"camera": "csvcam", "format": "csv"}
    r = api.client.get("/api/v1/attendance/events", params=params, headers=api.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeffid,at_utc,".encode())  # one BOM, for Excel
    text = r.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(row["id"]) for row in rows] == listed
    assert r.text.count("person_id") == 1 and r.text.count("\ufeff") == 1  # one header
    assert rows[0]["at_utc"] == "2026-03-02T01:09:00+00:00"
    assert pages == [(3, 0), (3, 3), (3, 6), (3, 9)]  # never everything at once

    monkeypatch.setattr(log_queries, "CSV_MAX_ROWS", 7)
    capped = api.client.get("/api/v1/attendance/events", params=params, headers=api.admin)
    capped_rows = csv.DictReader(io.StringIO(capped.content.decode("utf-8-sig")))
    assert [int(row["id"]) for row in capped_rows] == listed[:7]
