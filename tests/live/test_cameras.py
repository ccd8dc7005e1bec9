"""Cameras without models: on demand, backoff, watchdog, ownership, masked credentials."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate.config import CameraConfig
from facegate.live.cameras import Camera, parse_camera_option
from facegate.live.manager import OwnerLock
from facegate.redact import mask_url
from facegate.stream.sources import SourceFrame

SECRET_URL = "rtsp://admin:s3cret-pw@10.0.0.5:554/Streaming/Channels/101"


class FakeSource:
    """Frames every ``period`` seconds; ``stall_after`` frames, then a read that hangs
    until ``release`` is set (a dead RTSP connection)."""

    opened = 0

    def __init__(self, period: float = 0.01, stall_after: int | None = None) -> None:
        self.period, self.stall_after = period, stall_after
        self.release = threading.Event()
        self.closed = False
        FakeSource.opened += 1

    def __iter__(self) -> Iterator[SourceFrame]:
        i = 0
        while not self.closed:
            if self.stall_after is not None and i >= self.stall_after:
                self.release.wait(30)
                return
            time.sleep(self.period)
            yield SourceFrame(i, time.time(), np.zeros((8, 8, 3), np.uint8))
            i += 1

    def close(self) -> None:
        self.closed = True


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition (a test failure, not a timing claim, when it never comes)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_credentials_in_urls_are_masked():
    assert mask_url(SECRET_URL) == "rtsp://***@10.0.0.5:554/Streaming/Channels/101"
    assert mask_url("http://cam.local/mjpg") == "http://cam.local/mjpg"
    assert mask_url("videos/door.mp4") == "videos/door.mp4"
    assert mask_url("0") == "0"


def test_camera_option_parsing():
    c = parse_camera_option(f"door={SECRET_URL}")
    assert (c.name, c.source, c.always_on, c.direction) == ("door", SECRET_URL, False, "both")
    with pytest.raises(ValueError) as error:
        parse_camera_option(SECRET_URL)  # no NAME=
    assert "s3cret" not in str(error.value)
    with pytest.raises(ValueError):
        parse_camera_option("bad name!=0")


def test_a_camera_runs_only_while_consumed_and_restarts_on_demand():
    async def scenario() -> None:
        got: list[int] = []
        camera = Camera(
            CameraConfig(name="door", source="fake"),
            lambda cam, frame: got.append(frame.index),
            idle_stop_s=0.05,
            source_factory=lambda spec: FakeSource(),
        )
        await asyncio.sleep(0.1)
        # nobody asked: nothing captured (a pair, so mypy does not pin camera.state to "idle")
        assert (camera.state, got) == ("idle", [])
        camera.acquire()
        camera.acquire()  # two viewers share one capture thread
        await until(lambda: len(got) >= 5)
        assert camera.state == "running" and camera.starts == 1
        camera.release()
        await asyncio.sleep(0.15)
        assert camera.state == "running"  # one consumer is left
        camera.release()
        await until(lambda: camera.state == "idle")
        stopped_at = len(got)
        await asyncio.sleep(0.1)
        assert len(got) <= stopped_at + 1  # at most a frame already on its way
        camera.acquire()
        await until(lambda: len(got) > stopped_at + 3)
        assert camera.starts == 2 and camera.segment == 2  # a new segment: trackers restart
        camera.stop()

    run(scenario)


def test_release_then_acquire_within_the_grace_keeps_the_same_thread():
    async def scenario() -> None:
        camera = Camera(
            CameraConfig(name="door", source="fake"),
            lambda cam, frame: None,
            idle_stop_s=5.0,
            source_factory=lambda spec: FakeSource(),
        )
        camera.acquire()
        await until(lambda: camera.state == "running")
        camera.release()  # e.g. a page reload
        camera.acquire()
        await asyncio.sleep(0.05)
        assert camera.starts == 1 and camera.state == "running"
        camera.stop()

    run(scenario)


def test_a_failing_source_is_reopened_with_backoff_and_its_url_never_logged(caplog):
    attempts: list[float] = []

    def factory(spec: str) -> FakeSource:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise OSError(f"cannot open {spec}")  # drivers do quote the URL
        return FakeSource()

    async def scenario() -> None:
        got: list[int] = []
        camera = Camera(
            CameraConfig(name="gate", source=SECRET_URL, always_on=True),
            lambda cam, frame: got.append(frame.index),
            source_factory=factory,
        )
        await until(lambda: len(got) >= 3)
        assert camera.failures == 3 and camera.state == "running"
        assert camera.last_error == "OSError"
        camera.stop()

    with caplog.at_level(logging.DEBUG, logger="facegate.live"):
        run(scenario)
    # the delays the camera chose (from its own log lines, not the wall clock): doubling
    delays = [
        float(m[1])
        for r in caplog.records
        if (m := re.search(r"reopening in ([\d.]+) s", r.message))
    ]
    assert delays == [0.5, 1.0, 2.0]
    assert len(attempts) == 4
    assert "s3cret" not in caplog.text and "admin" not in caplog.text
    assert "reopening" in caplog.text


def test_the_watchdog_restarts_a_stalled_camera():
    sources: list[FakeSource] = []

    def factory(spec: str) -> FakeSource:
        sources.append(FakeSource(stall_after=3 if not sources else None))
        return sources[-1]

    async def scenario() -> None:
        got: list[int] = []
        camera = Camera(
            CameraConfig(name="door", source="fake", always_on=True),
            lambda cam, frame: got.append(frame.index),
            stall_s=0.3,
            source_factory=factory,
        )
        await until(lambda: len(got) == 3)
        assert not camera.check_stall()  # it has just delivered
        await until(camera.check_stall)  # nothing for stall_s: restarted
        assert camera.stalls == 1 and camera.starts == 2
        await until(lambda: len(got) > 6)  # the new thread delivers
        assert camera.segment == 2
        sources[0].release.set()  # the stuck read returns: its thread just exits
        await asyncio.sleep(0.05)
        assert sources[0].closed
        camera.stop()

    run(scenario)


class BrokenSource(FakeSource):
    """``frames`` frames, then a read error (a camera unplugged, a network drop)."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.frames = frames

    def __iter__(self) -> Iterator[SourceFrame]:
        for i, frame in enumerate(super().__iter__()):
            if i >= self.frames:
                raise OSError("read failed")
            yield frame


def test_every_open_of_the_source_starts_a_new_segment_before_its_first_frame():
    opened: list[FakeSource] = []

    def factory(spec: str) -> FakeSource:
        opened.append(BrokenSource(3) if not opened else FakeSource())
        return opened[-1]

    async def scenario() -> None:
        segments: list[int] = []
        camera = Camera(
            CameraConfig(name="door", source="fake", always_on=True),
            lambda cam, frame: segments.append(cam.segment),
            source_factory=factory,
        )
        await until(lambda: len(segments) >= 6)  # 3 frames, a read error, a reopen
        camera.stop()
        assert segments[:3] == [1, 1, 1] and set(segments[3:]) == {2}
        assert camera.failures == 1 and camera.as_dict()["segments"] == 2

    run(scenario)


def test_one_owner_per_camera_lock(tmp_path: Path):
    path = tmp_path / "live" / "camera-door.lock"
    first, second = OwnerLock(path), OwnerLock(path)
    assert first.try_acquire()
    assert not second.try_acquire()  # another open file: as another process would be
    first.release()
    assert second.try_acquire()
    second.release()


@pytest.mark.slow
def test_serve_camera_options_are_checked_and_merged_without_showing_secrets(monkeypatch):
    from typer.testing import CliRunner

    from facegate.cli import app
    from facegate.cli.serve_cmd import _effective_settings

    for name in ("FACEGATE_LIVE_WORKERS", "FACEGATE_STREAM_PORT", "FACEGATE_STREAM_SERVER"):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    monkeypatch.setenv("FACEGATE_CAMERAS", '[{"name": "lobby", "source": "0"}]')
    before = dict(os.environ)
    options = {"live_workers": 2, "stream_port": 9001}
    settings = _effective_settings(None, options, [f"gate={SECRET_URL}"])
    assert [c.name for c in settings.live.all_cameras] == ["lobby", "gate"]
    assert (settings.server.workers, settings.stream.port) == (2, 9001)
    assert settings.live.all_cameras[1].source == SECRET_URL
    assert dict(os.environ) == before  # the workers get the settings, not the environment

    for bad in (SECRET_URL, f"lobby={SECRET_URL}"):  # no NAME=; a name taken twice
        result = CliRunner().invoke(app, ["serve", "--camera", bad])
        assert result.exit_code == 2, result.output
        assert "s3cret" not in result.output
