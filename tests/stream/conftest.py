"""Stream fixtures: one enrolled gallery per session and servers on a background loop.

The server runs on its own event loop thread so tests can drive it with the real, blocking
``Client`` (and raw sockets) exactly as a user would, over TCP on loopback.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.config import Settings
from facegate.services import Services
from facegate.stream.client import Client
from facegate.stream.protocol import Result
from facegate.stream.server import AllowAll, KeyVerifier, StreamServer

ENROLLED = ("Lin_Manuel_Miranda", "Alex_Lacamoire", "Barack_Obama")


@pytest.fixture(scope="session")
def stream_services(
    faces_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """Services over a fresh gallery with the Hamilton clip's three people enrolled."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("stream-gallery"))
    services = Services.start(settings, background_sync=False)
    for name in ENROLLED:
        person = services.gallery.create_person(name)
        folder = faces_dir / "people" / name
        photos = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
        reports = services.recognition.enrol(person.id, photos, enforce_quality=False)
        assert any(r.accepted for r in reports), name
    yield services
    services.close()


class ServerThread:
    """A ``StreamServer`` on an event loop in a daemon thread."""

    def __init__(
        self, services: Services, verifier: KeyVerifier, port: int = 0, **attrs: Any
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = StreamServer(services, "127.0.0.1", port, verifier=verifier)
        for name, value in attrs.items():  # e.g. send_queue=2, max_age_s=5.0
            setattr(self.server, name, value)
        self.call(self.server.start())
        self.port = self.server.port

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stats(self) -> dict[str, Any]:
        """The server's counters the tests check, read on its loop."""

        async def snapshot() -> dict[str, Any]:
            server = self.server
            return {
                "connections": len(server._connections),
                "pending": server.admission.pending,
                "refused": dict(server.admission.refused),
                "streams": [s.as_dict() for s in server.stats()],
                "frames_started": server.scheduler.turns,
                "errors_sent": dict(server.errors_sent),
            }

        found: dict[str, Any] = self.call(snapshot())
        return found

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def make_server(stream_services: Services) -> Iterator[Any]:
    """Start servers (default: every key accepted, lenient frame age); stopped after the test."""
    started: list[ServerThread] = []

    def make(verifier: KeyVerifier | None = None, **attrs: Any) -> ServerThread:
        attrs.setdefault("max_age_s", 10.0)  # tests count frames, not race the clock
        server = ServerThread(stream_services, verifier or AllowAll(), **attrs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def video_frames(path: Path, count: int, step: int = 1) -> list[np.ndarray]:
    """The first ``count`` frames (every ``step``-th) of a video."""
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(image)
        index += 1
    capture.release()
    assert frames, f"no frames from {path}"
    return frames


def lockstep(client: Client, frames: list[np.ndarray]) -> list[Result]:
    """Send each frame and wait for its result (nothing is replaced or stale)."""
    results = []
    for image in frames:
        fid = client.send_frame(image)
        while True:
            message = client.receive(timeout=60)
            if isinstance(message, Result):
                assert message.frame_id == fid
                results.append(message)
                break
    return results
