"""Skipping the detector on settled frames (``stream.detect_every``) names the same people.

Real models and gallery (the session's ``stream_services``: the Hamilton clip's three people
enrolled), the dev videos through ``FrameProcessor`` once with the detector on every frame
and once on every second frame while every face is confirmed and still. A carried frame
never names anyone, so the people confirmed must be the same; when names show may differ
on the odd frame (a face settled one frame later), so that is bounded, not required equal.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config.base import default_of
from facegate.config.stream import StreamSettings
from facegate.services import Services
from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor, TrackedFace
from tests.stream.conftest import ENROLLED, video_frames

VIDEOS = {  # who must be among the people confirmed
    "short_hamilton_clip.mp4": {"Lin_Manuel_Miranda", "Barack_Obama"},
    "obama.mp4": {"Barack_Obama"},
}


class Feed:
    """One stream's frames through a real ``FrameProcessor`` (the real engine and gallery),
    numbered as they come; calling it with a frame returns that frame's tracked faces."""

    def __init__(
        self,
        services: Services,
        stream: str,
        detect_every: int = default_of(StreamSettings, "detect_every"),
        still_detect_every: int = default_of(StreamSettings, "still_detect_every"),
    ) -> None:
        self.processor = FrameProcessor(
            services.engine,
            services.gallery,
            stream=stream,
            detect_every=detect_every,
            still_detect_every=still_detect_every,
        )
        self.count = 0

    def __call__(self, image: np.ndarray) -> tuple[TrackedFace, ...]:
        self.count += 1
        frame = FrameIn(self.count, 0.0, time.time(), image=image)
        return self.processor.process(frame, DropCounts()).faces


def confirmed_per_frame(
    services: Services, video: Path, detect_every: int
) -> tuple[list[frozenset[str]], int]:
    """Per frame, the set of confirmed names shown; and how many frames were carried."""
    feed = Feed(services, video.name, detect_every=detect_every)
    capture = cv2.VideoCapture(str(video))
    shown: list[frozenset[str]] = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        shown.append(frozenset(f.person_name for f in feed(image) if f.confirmed and f.person_name))
    capture.release()
    return shown, feed.processor.carried


@pytest.mark.slow
@pytest.mark.parametrize("video", sorted(VIDEOS))
def test_the_same_people_are_confirmed_with_and_without_skipping(
    stream_services: Services, faces_dir: Path, video: str
) -> None:
    path = faces_dir / "videos" / video
    every, carried_every = confirmed_per_frame(stream_services, path, 1)
    skip, carried_skip = confirmed_per_frame(stream_services, path, 2)
    assert carried_every == 0 and carried_skip > len(skip) // 5  # skipping really happened
    people = set().union(*every)
    assert set().union(*skip) == people
    assert VIDEOS[video] <= people <= set(ENROLLED)
    differ = sum(a != b for a, b in zip(every, skip, strict=True))
    assert differ <= len(skip) // 50, differ  # 2 % of frames at most


def test_a_still_scene_is_detected_less_often_and_movement_brings_the_detector_back(
    stream_services: Services, faces_dir: Path
) -> None:
    """``stream.still_detect_every``: one real frame of obama.mp4 held still (a fixed camera,
    nobody else in the picture) is detected every 5th frame once Obama is confirmed; a
    passer-by at the edge of the picture brings back every 2nd frame at once."""
    (frame,) = video_frames(faces_dir / "videos" / "obama.mp4", 1)
    feed = Feed(stream_services, "still", detect_every=2, still_detect_every=5)
    processor = feed.processor

    def names(image: np.ndarray) -> list[str]:
        return [f.person_name or "" for f in feed(image) if f.confirmed]

    for _ in range(10):
        shown = names(frame)
    assert shown == ["Barack_Obama"]
    detected = processor.detected
    for _ in range(20):
        assert names(frame) == ["Barack_Obama"]  # carried frames keep showing the name
    assert processor.detected - detected <= 5  # every 5th frame, not every 2nd (10)
    assert processor.carried_still >= 10

    detected, resets = processor.detected, processor.tracker.resets
    for step in range(8):  # a figure walking in from the left, far from the face
        walker = frame.copy()
        part = walker[300:420, 10 + 12 * step : 50 + 12 * step]
        part[:] = np.clip(part.astype(np.int16) + 80, 0, 255).astype(np.uint8)
        feed(walker)
    assert processor.tracker.resets == resets  # no scene cut: the stillness check saw it
    assert processor.detected - detected >= 4  # every 2nd frame again


def test_a_face_gone_longer_than_max_missed_frames_comes_back_as_a_new_track(
    stream_services: Services, faces_dir: Path
) -> None:
    """In a still scene the detector runs on every 5th frame, so a face covered for 14
    frames is missed by only three detections: it must still expire after ``max_missed``
    frames (door watchers forget a track after 12 and would decide its return again) and
    come back as a new, unconfirmed track, never under the old id and name."""
    (frame,) = video_frames(faces_dir / "videos" / "obama.mp4", 1)
    feed = Feed(stream_services, "gone", still_detect_every=5)
    processor = feed.processor

    def tracks(image: np.ndarray) -> list[tuple[int, bool]]:
        return [(f.track_id, f.confirmed) for f in feed(image)]

    for _ in range(10):
        faces = tracks(frame)
    [(first_id, confirmed)] = faces
    assert confirmed
    box = processor.tracker.states()[0].box
    covered = frame.copy()
    x0, y0 = int(box.x) - 10, int(box.y) - 10
    covered[y0 : int(box.y + box.h) + 10, x0 : int(box.x + box.w) + 10] = frame[y0, x0]
    resets = processor.tracker.resets
    for _ in range(14):
        assert tracks(covered) == []
    assert processor.tracker.resets == resets and processor.carried_still > 0
    back = [tracks(frame) for _ in range(3)]
    ids = {track_id for faces in back for track_id, _ in faces}
    assert ids and first_id not in ids
    assert back[0] == [] or not back[0][0][1]  # not confirmed on its first frame back
