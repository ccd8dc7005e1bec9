"""A confirmed name belongs to one face: hard cuts between people on the same spot, over TCP.

Real models, a real gallery, a real ``StreamServer`` and ``Client``: each synthetic clip
(facegate/bench/cut_clips.py) puts dev photos of different people at the same place, one
after the other, and every RESULT is judged against who is really on screen. Before tracks
split on cuts, the previous person's name stayed on the next one for 17 frames or more, and
a confirmed stranger kept the next, enrolled person unrecognised for the whole segment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.bench.cut_clips import A, cut_clip, enrol_pair, judge, scenario
from facegate.config import Settings
from facegate.services import Services
from facegate.stream.appearance import SceneCutDetector
from facegate.stream.client import Client
from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor
from facegate.stream.server import AllowAll
from facegate.stream.tracker import TrackerParams
from tests.stream.conftest import ServerThread, lockstep

SEGMENT = 12  # frames per person
# The usual confirmation: ceil(confirm_votes) full-weight votes, one per frame; one frame
# of slack for a detector score a little under 1 (a lighter vote).
USUAL = math.ceil(TrackerParams().confirm_votes) + 1


@pytest.fixture(scope="module")
def cut_services(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services over a gallery with the clips' two people enrolled (not their stranger)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("cuts"))
    services = Services.start(settings, background_sync=False)
    enrol_pair(services, faces_dir / "people")
    yield services
    services.close()


@pytest.fixture(scope="module")
def cut_server(cut_services: Services) -> Iterator[int]:
    """A stream server over ``cut_services``; yields its port."""
    server = ServerThread(cut_services, AllowAll(), max_age_s=10.0)
    try:
        yield server.port
    finally:
        server.stop()


Shown = list[tuple[str | None, list[tuple[str | None, bool]]]]  # per frame: who, faces


def stream_clip(port: int, clip: str, people: Path) -> Shown:
    frames = cut_clip(scenario(people, clip, SEGMENT))
    with Client("127.0.0.1", port, "key", stream=clip) as client:
        results = lockstep(client, [image for image, _ in frames])
    assert len(results) == len(frames)
    return [
        (who, [(None if f.person is None else f.person.name, f.confirmed) for f in r.faces])
        for (_, who), r in zip(frames, results, strict=True)
    ]


@pytest.mark.slow
def test_enrolled_people_taking_turns_each_get_their_own_name(cut_server, faces_dir):
    frames = stream_clip(cut_server, "both_enrolled", faces_dir / "people")
    verdict = judge(frames)
    assert verdict.longest_wrong_run <= 1, frames
    assert len(verdict.confirm_delays) == 5
    assert all(d is not None and d <= USUAL for d in verdict.confirm_delays), verdict


@pytest.mark.slow
def test_a_stranger_between_enrolled_people_is_never_named_and_never_blocks_them(
    cut_server, faces_dir
):
    frames = stream_clip(cut_server, "stranger", faces_dir / "people")
    verdict = judge(frames)
    assert verdict.longest_wrong_run <= 1, frames
    assert len(verdict.confirm_delays) == 2
    assert all(d is not None and d <= USUAL for d in verdict.confirm_delays), verdict
    # the stranger is confirmed as a stranger (the state that used to block the next person)
    assert any((None, True) in faces for _, faces in frames[:SEGMENT])


@pytest.mark.slow
@pytest.mark.parametrize("detect_every", [1, 2])
def test_without_cut_detection_the_per_track_checks_alone_split_every_change(
    cut_services, faces_dir, detect_every
):
    """The scene-cut detector misses cuts between similar frames (Blair -> Chirac here):
    box jumps, appearance changes and embeddings must then do the whole job, also when the
    detector skips frames (a carried box that stops looking like its face is detected)."""
    processor = FrameProcessor(
        cut_services.engine, cut_services.gallery, stream="no-cuts", detect_every=detect_every
    )
    processor.cuts = SceneCutDetector(min_difference=math.inf)
    frames: Shown = []
    clip = cut_clip(scenario(faces_dir / "people", "both_enrolled", SEGMENT))
    for n, (image, who) in enumerate(clip):
        result = processor.process(FrameIn(n, 0.0, time.time(), image=image), DropCounts())
        frames.append((who, [(f.person_name, f.confirmed) for f in result.faces]))
    verdict = judge(frames)
    assert processor.tracker.resets == 0
    assert processor.tracker.splits >= 5  # one per change of person at least
    assert verdict.longest_wrong_run <= 1, frames
    assert all(d is not None and d <= USUAL for d in verdict.confirm_delays), verdict

    assert (processor.carried > 0) == (detect_every > 1)


@pytest.mark.slow
def test_a_cut_on_a_frame_that_would_be_carried_still_ends_every_track(cut_services, faces_dir):
    """``stream.detect_every`` skips the detector on frames where every face is confirmed and
    still; a cut on such a frame must end every track there all the same, and the next
    person must never show the previous one's name."""
    processor = FrameProcessor(
        cut_services.engine, cut_services.gallery, stream="skip", detect_every=2
    )
    clip = cut_clip(scenario(faces_dir / "people", "both_enrolled", 3 * SEGMENT))
    first = [image for image, who in clip if who == A][: 3 * SEGMENT]
    second = next(image for image, who in clip if who != A)
    result = None
    for n, image in enumerate(first):
        detected = processor.detected
        result = processor.process(FrameIn(n, 0.0, time.time(), image=image), DropCounts())
        if processor.carried and processor.detected > detected and processor.tracker.settled():
            break  # this frame was detected and the next one would be carried
    else:
        pytest.fail("the face was never carried, or never settled after a detected frame")
    assert result is not None
    # A's photo shows somebody else in the background too (confirmed unknown)
    assert (A, True) in [(f.person_name, f.confirmed) for f in result.faces]
    before = {f.track_id for f in result.faces}
    resets, carried = processor.tracker.resets, processor.carried

    cut = processor.process(FrameIn(99, 0.0, time.time(), image=second), DropCounts())
    assert processor.tracker.resets == resets + 1  # the tracks ended on the cut's frame
    assert processor.carried == carried  # and that frame went to the detector
    assert cut.faces and not {f.track_id for f in cut.faces} & before
    assert not any(f.confirmed or f.person_name == A for f in cut.faces)


@pytest.mark.slow
def test_a_carried_frame_embeds_nothing_and_reports_no_landmarks(cut_services, faces_dir):
    processor = FrameProcessor(
        cut_services.engine, cut_services.gallery, stream="carried", detect_every=2
    )
    clip = cut_clip(scenario(faces_dir / "people", "both_enrolled", SEGMENT))
    for n, (image, _) in enumerate(clip[:SEGMENT]):
        carried = processor.carried
        result = processor.process(FrameIn(n, 0.0, time.time(), image=image), DropCounts())
        if processor.carried > carried:
            assert result.embedded == 0 and result.timings_ms.detect == 0.0
            assert result.faces and all(f.landmarks is None for f in result.faces)
            assert all(f.confirmed and f.person_name in (A, None) for f in result.faces)
            assert A in {f.person_name for f in result.faces}
            return
    pytest.fail("no frame of a still, confirmed face was carried")
