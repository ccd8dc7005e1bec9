"""Live-view fixtures: the real app (stream server + live hook) under uvicorn on a thread,
Barack Obama enrolled, and the dev video ``videos/obama.mp4`` as a server-side camera."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from facegate.api import create_app
from facegate.api.serve_hooks import serve_hooks
from facegate.config import CameraConfig, Settings
from facegate.live.hook import LiveHook
from tests.inprocess import served

CAMERA = "podium"
PERSON = "Barack_Obama"
BOUNDARY = b"--frame\r\n"


@dataclass
class LiveServer:
    base: str
    app: Any
    admin: str
    recognize: str
    monitor: str
    person_id: int
    video: Path

    @property
    def hook(self) -> LiveHook:
        return next(h for h in self.app.state.hooks if isinstance(h, LiveHook))

    @property
    def stream_port(self) -> int:
        stream_hook = self.hook.stream_hook
        assert stream_hook is not None and stream_hook.server is not None, "no stream server"
        return int(stream_hook.server.port)

    def streams(self) -> dict[str, dict[str, Any]]:
        r = httpx.get(
            f"{self.base}/api/v1/live/streams", headers={"X-API-Key": self.monitor}, timeout=10
        )
        assert r.status_code == 200, r.text
        return {s["name"]: s for s in r.json()["streams"]}


def enrol(app: Any, people: Path, name: str) -> int:
    services = app.state.services
    person = services.gallery.create_person(name)
    photos = [(p.name, p.read_bytes()) for p in sorted((people / name).iterdir())]
    reports = services.recognition.enrol(person.id, photos, enforce_quality=False)
    assert any(r.accepted for r in reports)
    return int(person.id)


@pytest.fixture(scope="module")
def live_server(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    video = faces_dir / "videos" / "obama.mp4"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("live"),
        cameras=[CameraConfig(name=CAMERA, source=str(video))],
        stream_port=0,
        stream_max_frame_age_ms=2000.0,  # a loaded test machine: count frames, not race
        live_idle_stop_s=1.0,
    )
    app = create_app(settings, hooks=serve_hooks(settings))
    with served(app) as base:
        keys = app.state.keys
        _, admin = keys.create("admin", "live tests")
        _, recognize = keys.create("recognize", "live tests")
        _, monitor = keys.create("monitor", "live tests")
        person_id = enrol(app, faces_dir / "people", PERSON)
        yield LiveServer(base, app, admin, recognize, monitor, person_id, video)


class Parts:
    """Strict reader of a multipart/x-mixed-replace body: boundary line, headers, blank line,
    exactly Content-Length bytes, CRLF. One iterator for the response's whole life (closing
    an httpx byte iterator closes the response, i.e. the viewer would leave)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.iter_bytes()
        self._buffer = b""

    def _need(self, n: int) -> None:
        while len(self._buffer) < n:
            self._buffer += next(self._chunks)

    def next(self) -> tuple[dict[str, str], bytes]:
        self._need(len(BOUNDARY))
        assert self._buffer.startswith(BOUNDARY), self._buffer[:40]
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += next(self._chunks)
        head, self._buffer = self._buffer[len(BOUNDARY) :].split(b"\r\n\r\n", 1)
        headers = {
            k.strip().lower(): v.strip()
            for k, v in (line.split(":", 1) for line in head.decode().split("\r\n"))
        }
        length = int(headers["content-length"])
        self._need(length + 2)
        body, tail = self._buffer[:length], self._buffer[length : length + 2]
        self._buffer = self._buffer[length + 2 :]
        assert tail == b"\r\n"
        return headers, body

    def take(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        return [self.next() for _ in range(count)]


def decode(jpeg: bytes) -> np.ndarray:
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9", "not a complete JPEG"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image
