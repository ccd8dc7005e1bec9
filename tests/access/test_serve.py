"""Access control through a real ``facegate serve --workers 2``: doors, groups and rules made
with the CLI while the server runs (another process, the same database) reach both workers,
and dev videos streamed over TCP to door cameras become door events in
``GET /api/v1/access/events?door=...``: the enrolled, allowed person ``granted``, a stranger
``denied unknown_person``, a person in no allowed group ``denied not_in_group``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.access.streaming import events, stream_video
from tests.pg import create_database, drop_database
from tests.serving import FACEGATE, create_key, enrol, free_port, serving
from tests.stream.conftest import video_frames

FRAMES = 45
PERSON = "Barack_Obama"


def cli(served: dict[str, Any], *args: str) -> str:
    where = ["--data-dir", str(served["data"])]
    if served["url"]:
        where += ["--database-url", served["url"]]
    done = subprocess.run(
        [str(FACEGATE), *args, *where], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, faces_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("access-serve")
    url, admin_url = None, None
    env = {"FACEGATE_INFERENCE_THREADS": "1", "FACEGATE_ACCESS_TIMEZONE": "Asia/Shanghai"}
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "acc_serve")
        env["FACEGATE_DATABASE_URL"] = url
    with pytest.MonkeyPatch.context() as patch:  # keys go to the database the server uses
        if url:
            patch.setenv("FACEGATE_DATABASE_URL", url)
        admin, recognize = create_key(data, "admin"), create_key(data, "recognize")
    port, stream_port = free_port(), free_port()
    try:
        yield from _serve(faces_dir, data, url, env, admin, recognize, port, stream_port)
    finally:
        if admin_url is not None:
            drop_database(admin_url, "acc_serve")


def _serve(
    faces_dir: Path, data: Path, url: str | None, env: dict[str, str], admin: str,
    recognize: str, port: int, stream_port: int,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    with serving(data, port, "--workers", "2", "--stream-port", str(stream_port), env=env) as base:
        headers = {"X-API-Key": admin}
        person_id = enrol(base, headers, PERSON, faces_dir / "people" / PERSON)
        yield {
            "base": base, "data": data, "url": url, "admin": headers, "recognize": recognize,
            "stream_port": stream_port, "person_id": person_id,
            "obama": video_frames(faces_dir / "videos" / "obama.mp4", FRAMES),
            "biden": video_frames(faces_dir / "videos" / "biden.mp4", FRAMES),
        }  # fmt: skip


def stream_until(
    served: dict[str, Any], camera: str, frames: str, done: Callable[[list[dict[str, Any]]], bool],
    door: str, rounds: int = 6,
) -> list[dict[str, Any]]:  # fmt: skip
    """Walk past the camera (stream the clip on a new connection, so to either worker) until
    the door's events satisfy ``done``: the CLI's change reaches a worker's door directory
    within its refresh period, and its gallery within the poll interval."""
    found: list[dict[str, Any]] = []
    for _ in range(rounds):
        stream_video(served["stream_port"], served["recognize"], camera, served[frames])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = events(served, door)
            if done(found):
                return found
            time.sleep(0.2)
    return found


def test_cli_changes_reach_the_running_server(served: dict[str, Any]):
    data = served  # where the CLI finds the database
    assert "added door front" in cli(data, "doors", "add", "front", "--camera", "front-cam")
    cli(data, "groups", "add", "staff")
    assert "added to group staff" in cli(data, "groups", "add-member", "staff", PERSON)
    cli(data, "rules", "add", "--door", "front", "--group", "staff", "--days", "all")

    def granted(found: list[dict[str, Any]]) -> bool:
        return any(e["decision"] == "granted" for e in found)

    found = stream_until(served, "front-cam", "obama", granted, "front")
    event = next(e for e in found if e["decision"] == "granted")
    assert event["person"] == {"id": served["person_id"], "name": PERSON}
    assert (event["door"], event["camera"], event["reason"]) == ("front", "front-cam", "rule")
    assert isinstance(event["score"], float) and event["at"].endswith("+00:00")

    def stranger(found: list[dict[str, Any]]) -> bool:
        return any(e["reason"] == "unknown_person" for e in found)

    found = stream_until(served, "front-cam", "biden", stranger, "front")
    event = next(e for e in found if e["reason"] == "unknown_person")
    assert (
        event["decision"] == "denied" and event["person"] is None and event["alarm"] == "stranger"
    )

    cli(data, "doors", "add", "side", "--camera", "side-cam:out")
    found = stream_until(served, "side-cam", "obama", bool, "side")
    assert [(e["decision"], e["reason"], e["direction"]) for e in found][:1] == [
        ("denied", "not_in_group", "out")
    ]
    # the CLI reads the same events
    out = cli(data, "access", "events", "--door", "front", "--csv")
    assert "front-cam" in out and "granted" in out and "unknown_person" in out
