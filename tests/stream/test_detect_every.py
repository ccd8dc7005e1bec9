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
import pytest

from facegate.services import Services
from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor
from tests.stream.conftest import ENROLLED

VIDEOS = {  # who must be among the people confirmed
    "short_hamilton_clip.mp4": {"Lin_Manuel_Miranda", "Barack_Obama"},
    "obama.mp4": {"Barack_Obama"},
}


def confirmed_per_frame(
    services: Services, video: Path, detect_every: int
) -> tuple[list[frozenset[str]], int]:
    """Per frame, the set of confirmed names shown; and how many frames were carried."""
    processor = FrameProcessor(
        services.engine, services.gallery, stream=video.name, detect_every=detect_every
    )
    capture = cv2.VideoCapture(str(video))
    shown: list[frozenset[str]] = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frame = FrameIn(len(shown), 0.0, time.time(), image=image)
        result = processor.process(frame, DropCounts())
        shown.append(
            frozenset(f.person_name for f in result.faces if f.confirmed and f.person_name)
        )
    capture.release()
    return shown, processor.carried


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
