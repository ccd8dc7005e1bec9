"""From a video streamed over TCP to a daily record: the whole attendance path.

``obama.mp4`` is streamed frame by frame to the stream server that ``facegate serve`` runs
beside the API (the app is built with ``serve_hooks``, exactly as serve builds it: the stream
server announces each confirmed track as a recognition event). Barack Obama is enrolled from
his dev photos; the lobby camera is an ``in`` camera in Shanghai time. His first-in must be
the moment his track was first confirmed: inside the [received, sent] window of the first
result that shows him confirmed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facegate.api import create_app
from facegate.api.serve_hooks import serve_hooks
from facegate.config import Settings
from facegate.stream.hook import StreamServerHook
from tests.access.streaming import stream_video
from tests.pg import create_database, drop_database
from tests.stream.conftest import video_frames

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FRAMES = 45  # 1.5 s of video: enough for a track to be confirmed


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    url, admin_url = None, None
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "att_e2e")
    yield Settings(
        data_dir=tmp_path,
        database_url=url,
        api_auth=False,
        api_allowed_hosts=["testserver"],  # TestClient's Host; without auth only loopback
        stream_port=0,
        attendance_timezone="Asia/Shanghai",
        attendance_cameras={"lobby": "in"},
    )
    if admin_url is not None:
        drop_database(admin_url, "att_e2e")


@pytest.mark.slow
def test_video_over_tcp_to_a_daily_record(settings: Settings, faces_dir: Path):
    hooks = serve_hooks(settings)
    hook = hooks[0]
    assert isinstance(hook, StreamServerHook)
    app = create_app(settings, hooks=hooks)
    frames = video_frames(faces_dir / "videos" / "obama.mp4", FRAMES)
    with TestClient(app) as http:
        photos = sorted((faces_dir / "people" / "Barack_Obama").iterdir())
        person = http.post("/api/v1/people", json={"name": "Barack_Obama"}).json()
        files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
        enrolled = http.post(f"/api/v1/people/{person['id']}/faces", files=files)
        assert enrolled.status_code == 200, enrolled.text
        http.post("/api/v1/people", json={"name": "Absent Colleague"})
        assert hook.server is not None
        results = stream_video(hook.server.port, "key", "lobby", frames)
        confirmed = [
            r
            for r in results
            if any(f.confirmed and f.person and f.person.name == "Barack_Obama" for f in r.faces)
        ]
        assert confirmed, "Obama was never confirmed on the stream"
        first = confirmed[0].timestamps
        recorder = app.state.attendance_hook.recorder
        deadline = time.monotonic() + 30
        while recorder.recorded < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        day = app.state.attendance_hook.attendance.policy.working_day(
            datetime.fromtimestamp(first.received, UTC)
        )
        logged = http.get("/api/v1/attendance/events", params={"person_id": person["id"]}).json()
        report = http.get("/api/v1/attendance/daily", params={"date": str(day)}).json()
    # one walk past the camera is one event, whatever the number of frames he is in
    assert logged["total"] == 1
    event = logged["items"][0]
    assert (event["camera"], event["direction"], event["kind"]) == ("lobby", "in", "confirmed")
    assert event["has_snapshot"]
    rows = {row["person"]["name"]: row for row in report["people"]}
    obama = rows["Barack_Obama"]
    assert obama["status"] == "present" and obama["events"] == 1 and obama["inside"]
    first_in = datetime.fromisoformat(obama["first_in"])
    assert first_in.utcoffset() == timedelta(hours=8)  # shown in Shanghai time
    assert first.received <= first_in.timestamp() <= first.sent
    assert first_in == datetime.fromisoformat(event["at"])
    assert rows["Absent Colleague"]["status"] == "missing"
