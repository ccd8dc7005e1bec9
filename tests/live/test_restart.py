"""A camera (re)start begins with an empty tracker: through the real camera manager.

Real models and gallery, the real ``CameraManager`` -> ``Camera`` -> ``StreamPipeline`` path,
and an in-memory source showing a synthetic clip (facegate/bench/cut_clips.py) of one person on a
fixed spot. The camera is stopped (no consumer left) and started again on demand; the
frames after the restart must never carry the earlier person's confirmed name, and must
start new tracks (ids never used before) even when the same person is still there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate.bench.cut_clips import A, B, Segment, cut_clip, enrol_pair, judge, photo
from facegate.config import CameraConfig, Settings
from facegate.live.hub import LiveHub
from facegate.live.manager import CameraManager
from facegate.services import Services
from facegate.stream.scheduler import FairScheduler
from facegate.stream.sources import SourceFrame
from tests.live.test_cameras import until
from tests.stream.test_cuts import USUAL

CAMERA = "door"


@pytest.fixture(scope="module")
def services(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("restart"),
        cameras=[CameraConfig(name=CAMERA, source="memory")],
        stream_max_frame_age_ms=5000.0,  # a loaded test machine: count frames, not race
        live_idle_stop_s=0.05,
    )
    started = Services.start(settings, background_sync=False)
    enrol_pair(started, faces_dir / "people")
    yield started
    started.close()


class Showing:
    """The scene in front of the in-memory camera; each open of the source is numbered and
    its frames marked (pixel 0,0: blue = open number, green = person index)."""

    def __init__(self, people: Path) -> None:
        self.people = people
        self.who = A
        self.opens = 0

    def source(self, spec: str) -> Any:
        self.opens += 1
        frames = cut_clip([Segment(photo(self.people, self.who), 30, self.who)], seed=self.opens)
        for image, _ in frames:
            image[0, 0] = (self.opens, (A, B).index(self.who), 0)
        return LoopingSource([image for image, _ in frames])


class LoopingSource:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.closed = frames, False

    def __iter__(self) -> Iterator[SourceFrame]:
        i = 0
        while not self.closed:
            time.sleep(0.02)
            yield SourceFrame(i, time.time(), self.frames[i % len(self.frames)].copy())
            i += 1

    def close(self) -> None:
        self.closed = True


class Seen:
    """Every processed frame of the camera: (open number, who, [(name, confirmed, track)])."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[int, str, list[tuple[str | None, bool, int]]]] = []

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        opened, person = int(image[0, 0, 0]), (A, B)[int(image[0, 0, 1])]
        row = [(f.person_name, f.confirmed, f.track_id) for f in faces]
        with self.lock:
            self.frames.append((opened, person, row))

    def confirmed(self, opened: int, name: str) -> int:
        with self.lock:
            rows = [row for o, _, row in self.frames if o == opened]
        return sum(1 for row in rows if (name, True) in {r[:2] for r in row})


def restart_with(services: Services, faces_dir: Path, second: str) -> Seen:
    """Show A, stop the camera (nobody watches), show ``second``, start it again."""
    showing, seen = Showing(faces_dir / "people"), Seen()
    unregister = services.observers.register(
        lambda stream, prompt: seen.observe if stream == CAMERA else None
    )

    async def scenario() -> None:
        scheduler = FairScheduler(services.inference)
        manager = CameraManager(services, LiveHub(), scheduler, source_factory=showing.source)
        await manager.start()
        camera = manager.camera(CAMERA)
        assert camera is not None
        try:
            camera.acquire()
            await until(lambda: seen.confirmed(1, A) >= 5, timeout=120)
            camera.release()
            await until(lambda: camera.state == "idle")
            showing.who = second
            camera.acquire()
            await until(lambda: seen.confirmed(2, second) >= 5, timeout=120)
            camera.release()
        finally:
            await manager.stop()

    try:
        asyncio.run(scenario())
    finally:
        unregister()
    return seen


@pytest.mark.slow
def test_a_different_person_after_a_camera_restart_never_gets_the_earlier_name(services, faces_dir):
    seen = restart_with(services, faces_dir, B)
    verdict = judge([(who, [r[:2] for r in row]) for _, who, row in seen.frames])
    assert verdict.longest_wrong_run <= 1, seen.frames
    assert all(d is not None and d <= USUAL for d in verdict.confirm_delays), verdict


@pytest.mark.slow
def test_a_camera_restart_starts_new_tracks_even_for_the_same_person(services, faces_dir):
    seen = restart_with(services, faces_dir, A)
    before = {r[2] for o, _, row in seen.frames if o == 1 for r in row}
    after = [row for o, _, row in seen.frames if o == 2]
    assert before and after
    assert all(r[2] not in before for row in after for r in row)  # ids never reused
    first = next(i for i, row in enumerate(after, 1) if (A, True) in {r[:2] for r in row})
    assert first <= USUAL  # ... and the name confirms again as fast as at the start
