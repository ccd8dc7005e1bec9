"""HR over HTTP and the CLI on the real app (SQLite and PostgreSQL): site settings shared by the
API, the pages and ``facegate attendance report``; calendar, shifts, corrections with their
audit, the monthly summary and the Excel exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from facegate.cli import app as cli_app
from facegate.config import Settings
from tests.api.conftest import Api
from tests.attendance.conftest import seen
from tests.attendance.test_api import api, settings  # noqa: F401 (module fixtures)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 12)  # a Monday, long over
BOM = b"\xef\xbb\xbf"


def cli(settings: Settings, *args: str) -> Any:  # noqa: F811
    base = ["--data-dir", str(settings.storage.data_dir)]
    if settings.storage.database_url:
        base += ["--database-url", settings.storage.database_url]
    # the environment says UTC: the database's site settings must win
    env = {"FACEGATE_ATTENDANCE_TIMEZONE": "UTC"}
    return CliRunner().invoke(cli_app, ["attendance", *args, *base], env=env)


def log(api: Api, person_id: int, hh: int, mm: int, camera: str) -> None:  # noqa: F811
    att = api.app.state.attendance_hook.attendance
    moment = datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)
    assert att.record(seen(person_id, moment, camera=camera)).event is not None


@pytest.mark.slow
def test_site_settings_api(api: Api, settings: Settings):  # noqa: F811
    url = "/api/v1/settings/site"
    assert api.client.get(url, headers=api.monitor).status_code == 403
    assert api.client.get(url).status_code == 401
    got = api.client.get(url, headers=api.admin).json()
    assert got["timezone"] == "Asia/Shanghai"  # the environment's default until saved
    cameras = {c["name"]: c["direction"] for c in got["info"]["cameras"]}
    assert cameras["front"] == "in" and cameras["back"] == "out"
    assert "recognition_threshold" in got["info"] and isinstance(got["info"]["doors"], list)
    put = api.client.put(
        url,
        json={
            "work_start": "08:30",
            "working_days": [1, 2, 3, 4, 5, 6],
            "leave_margin_minutes": 45,
        },
        headers=api.admin,
    )
    assert put.status_code == 200, put.text
    saved = put.json()
    assert saved["revision"] == got["revision"] + 1 and saved["work_start"] == "08:30:00"
    assert saved["timezone"] == "Asia/Shanghai" and saved["updated_by"].startswith("tests")
    for bad in ({"timezone": "Mars/Olympus"}, {"working_days": [9]}, {"nope": 1}, [1, 2]):
        r = api.client.put(url, json=bad, headers=api.admin)
        assert r.status_code == 422 and r.json()["error"]["code"].startswith("invalid_"), r.text
    # the CLI (environment: UTC) reports with the database's zone, as the API does
    report = cli(settings, "report", "--date", "2026-10-12", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["timezone"] == "Asia/Shanghai"
    daily = api.client.get("/api/v1/attendance/daily?date=2026-10-12", headers=api.admin).json()
    assert daily["timezone"] == "Asia/Shanghai"


def test_calendar_and_shifts_api(api: Api):  # noqa: F811
    put = api.client.put(
        "/api/v1/attendance/calendar/2026-10-01",
        json={"kind": "holiday", "name": "国庆节"},
        headers=api.admin,
    )
    assert put.status_code == 200, put.text
    api.client.put(
        "/api/v1/attendance/calendar/2026-10-10", json={"kind": "workday"}, headers=api.admin
    )
    year = api.client.get("/api/v1/attendance/calendar?year=2026", headers=api.admin).json()
    assert {d["date"]: d["kind"] for d in year["days"]} == {
        "2026-10-01": "holiday",
        "2026-10-10": "workday",
    }
    bad = api.client.put(
        "/api/v1/attendance/calendar/2026-10-02", json={"kind": "party"}, headers=api.admin
    )
    assert bad.status_code == 422
    assert (
        api.client.delete("/api/v1/attendance/calendar/2026-10-10", headers=api.admin).status_code
        == 204
    )
    gone = api.client.delete("/api/v1/attendance/calendar/2026-10-10", headers=api.admin)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    night = api.client.post(
        "/api/v1/attendance/shifts",
        json={"name": "night", "start": "22:00", "end": "06:00", "days": [1, 2, 3]},
        headers=api.admin,
    )
    assert night.status_code == 201 and night.json()["overnight"] is True, night.text
    shift_id = night.json()["id"]
    assert (
        api.client.post(
            "/api/v1/attendance/shifts",
            json={"name": "x", "start": "09:00", "end": "10:00", "days": [0]},
            headers=api.admin,
        ).status_code
        == 422
    )
    person = api.create_person("Night Guard")
    assigned = api.client.put(
        f"/api/v1/attendance/shifts/{shift_id}/assign",
        json={"person_id": person["id"]},
        headers=api.admin,
    )
    assert assigned.status_code == 200 and assigned.json()["people"] == [person["id"]]
    missing = api.client.put(
        f"/api/v1/attendance/shifts/{shift_id}/assign", json={"group": "nope"}, headers=api.admin
    )
    assert missing.status_code == 404
    shifts = api.client.get("/api/v1/attendance/shifts", headers=api.admin).json()["shifts"]
    assert [s["name"] for s in shifts] == ["night"]
    # edited in place: same id, the person keeps it
    edited = api.client.put(
        f"/api/v1/attendance/shifts/{shift_id}",
        json={"name": "late", "start": "12:00", "end": "20:30", "days": [2, 4]},
        headers=api.admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json() == {"id": shift_id, "name": "late", "start": "12:00", "end": "20:30",
                             "days": [2, 4], "overnight": False}  # fmt: skip
    shifts = api.client.get("/api/v1/attendance/shifts", headers=api.admin).json()["shifts"]
    assert [(s["name"], s["people"]) for s in shifts] == [("late", [person["id"]])]
    api.client.post("/api/v1/attendance/shifts", headers=api.admin,
                    json={"name": "early", "start": "06:00", "end": "14:00"})  # fmt: skip
    for bad, status in (
        ({"name": "early", "start": "12:00", "end": "20:00"}, 422),  # the other's name
        ({"name": "late", "start": "12:00", "end": "12:00"}, 422),
        ({"name": "late", "start": "25:00", "end": "12:00"}, 422),
    ):
        r = api.client.put(f"/api/v1/attendance/shifts/{shift_id}", json=bad, headers=api.admin)
        assert r.status_code == status, (bad, r.text)
    nowhere = api.client.put("/api/v1/attendance/shifts/99999", headers=api.admin,
                             json={"name": "x", "start": "09:00", "end": "10:00"})  # fmt: skip
    assert nowhere.status_code == 404
    assert (
        api.client.delete(f"/api/v1/attendance/shifts/{shift_id}", headers=api.admin).status_code
        == 204
    )


def test_correction_summary_and_exports(api: Api, settings: Settings):  # noqa: F811
    # Saved site settings, not the CLI's environment (UTC), decide the CLI's summary below;
    # saved here too so this test does not depend on an earlier one having saved them.
    saved = api.client.put(
        "/api/v1/settings/site", json={"timezone": "Asia/Shanghai"}, headers=api.admin
    )
    assert saved.status_code == 200, saved.text
    li = api.create_person("李伟", external_id="E-0012")["id"]
    log(api, li, 9, 20, "front")  # late
    fix = api.client.post(
        "/api/v1/attendance/corrections",
        json={
            "person_id": li,
            "date": DAY.isoformat(),
            "kind": "out",
            "at": "2026-10-12T18:10:00",  # site time
            "reason": "出口摄像头故障",
        },
        headers=api.admin,
    )
    assert fix.status_code == 201, fix.text
    assert fix.json()["at"] == "2026-10-12T18:10:00+08:00" and fix.json()["by"].startswith("tests")
    no_reason = api.client.post(
        "/api/v1/attendance/corrections",
        json={"person_id": li, "date": "2026-10-12", "kind": "in", "at": "2026-10-12T09:00:00",
              "reason": ""},
        headers=api.admin,
    )  # fmt: skip
    assert no_reason.status_code == 422
    daily = api.client.get(f"/api/v1/attendance/daily?date={DAY}", headers=api.admin).json()
    mine = next(p for p in daily["people"] if p["person"]["id"] == li)
    assert mine["late"] and not mine["left_early"]
    assert mine["last_out"] == "2026-10-12T18:10:00+08:00"
    assert [c["reason"] for c in mine["corrections"]] == ["出口摄像头故障"]
    # the person's page shows who corrected what, when and why
    api.client.cookies.set("facegate_session", api.admin["X-API-Key"])
    try:
        page = api.client.get(f"/attendance/people/{li}?date={DAY}").text
        assert "出口摄像头故障" in page and "att-correction" in page
        summary_page = api.client.get("/attendance/summary?month=2026-10")
        assert summary_page.status_code == 200 and "李伟" in summary_page.text
        assert api.client.get("/attendance/summary?month=2026-99").status_code == 422
    finally:
        api.client.cookies.clear()
    summary = api.client.get("/api/v1/attendance/summary?month=2026-10", headers=api.admin).json()
    row = next(p for p in summary["people"] if p["person"]["id"] == li)
    assert row["present"] == 1 and row["late"] == 1 and row["corrected_days"] == 1
    assert row["hours"] == 8.83  # 09:20 to the corrected 18:10
    assert row["absent"] >= 1 and row["working_days"] >= 20
    as_csv = api.client.get(
        "/api/v1/attendance/summary?month=2026-10&format=csv", headers=api.admin
    )
    assert as_csv.content.startswith(BOM)
    assert as_csv.headers["content-disposition"].endswith('attendance-2026-10.csv"')
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")))}
    assert rows["李伟"]["late"] == "1"
    as_xlsx = api.client.get(
        "/api/v1/attendance/summary?month=2026-10&format=xlsx", headers=api.admin
    )
    assert as_xlsx.status_code == 200 and as_xlsx.content[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    names = [sheet.cell(r, 3).value for r in range(2, sheet.max_row + 1)]
    assert "李伟" in names
    day_xlsx = api.client.get(
        f"/api/v1/attendance/daily/export?date={DAY}&format=xlsx", headers=api.admin
    )
    day_sheet = load_workbook(io.BytesIO(day_xlsx.content)).active
    by_name = {row[2]: row for row in day_sheet.iter_rows(values_only=True)}
    assert by_name["李伟"][5] == "2026-10-12T09:20:00+08:00"  # site time, no microseconds
    day_csv = api.client.get(f"/api/v1/attendance/daily?date={DAY}&format=csv", headers=api.admin)
    assert day_csv.content.startswith(BOM) and "李伟".encode() in day_csv.content
    assert api.client.get(
        "/api/v1/attendance/summary?month=2026-13", headers=api.admin
    ).status_code == 422  # fmt: skip
    # the CLI's summary is the same
    out = cli(settings, "summary", "--month", "2026-10", "--json")
    assert out.exit_code == 0, out.output
    cli_row = next(p for p in json.loads(out.output)["people"] if p["person"]["id"] == li)
    assert cli_row == row
    text = cli(settings, "summary", "--month", "2026-10")
    assert "李伟" in text.output and "2026-10" in text.output
    assert cli(settings, "summary", "--month", "October").exit_code == 2
