"""The passive flat-face check: synthetic landmark tracks, and the real detector on synthetic
photo attacks and on the real dev videos (which must never come out as spoof)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pytest

from facegate.config import Settings
from facegate.liveness import LivenessVerdict
from facegate.liveness.passive import PassiveRules, PassiveTrack
from tests.images import read_image
from tests.liveness.heads import HEAD, PHOTO, view

RULES = PassiveRules.from_settings(Settings())


def verdict_of(
    frames: Iterable[np.ndarray], rules: PassiveRules = RULES, face_px: float = 150.0
) -> LivenessVerdict:
    track = PassiveTrack(rules)
    for marks in frames:
        track.add(marks, face_px)
    return track.verdict()


def test_a_photo_tilted_to_and_fro_is_a_spoof():
    frames = [view(PHOTO, 40 * math.sin(i / 5), distance=4.0) for i in range(40)]
    v = verdict_of(frames)
    assert v.state == "spoof" and v.method == "passive"
    assert v.details["moved_frames"] >= 10 and v.details["live_frames"] == 0


def test_a_head_turning_is_live():
    frames = [view(HEAD, 25 * math.sin(i / 5)) for i in range(40)]
    v = verdict_of(frames)
    assert v.state == "live" and v.details["live_frames"] >= 10


def test_small_or_in_plane_motion_is_undecided_not_live():
    rng = np.random.default_rng(1)
    shaken = [
        view(
            HEAD, float(rng.normal(0, 1)), shift=(float(rng.normal(0, 5)), 0.0), scale=1 + 0.01 * i
        )
        for i in range(40)
    ]
    assert verdict_of(shaken).state == "undecided"
    still_photo = [view(PHOTO, shift=(i * 2.0, i * 1.0)) for i in range(40)]
    assert verdict_of(still_photo).state == "undecided"


def test_too_few_or_too_small_faces_are_pending():
    frames = [view(HEAD, 25 * math.sin(i / 5)) for i in range(40)]
    assert verdict_of(frames[: RULES.min_frames - 1]).state == "pending"
    assert verdict_of(frames, face_px=RULES.min_face_px - 1).state == "pending"


def test_the_window_forgets_old_frames():
    rules = PassiveRules(window=10, min_frames=5)
    turning = [view(HEAD, 25 * math.sin(i / 2)) for i in range(10)]
    still = [view(HEAD) for _ in range(10)]
    assert verdict_of(turning, rules).state == "live"
    assert verdict_of(turning + still, rules).state == "undecided"


@pytest.mark.parametrize("motion", ["tilt", "shake", "approach"])
@pytest.mark.slow
def test_real_detector_on_photo_attacks_never_says_live(engine, faces_dir, motion):
    from facegate.bench.liveness_bench import main_face, passive_state
    from facegate.bench.liveness_synth import face_print, photo_attack

    for name in ("Barack_Obama/fr_obama.jpg", "Joseph_Biden/fr_biden.jpg"):
        photo = read_image(faces_dir / "people" / name)
        box = max(engine.detect(photo), key=lambda d: d.box.area).box
        printed = face_print(photo, (box.x, box.y, box.w, box.h))
        seen = [main_face(engine, f) for f in photo_attack(printed, motion, 30, 11)]
        assert passive_state(seen, RULES) in ("spoof", "undecided")


@pytest.mark.slow
def test_real_dev_videos_are_never_called_spoof(engine, faces_dir):
    """Every face track of every dev video, in windows of the check's length: live or
    undecided, never spoof (a false spoof would lock a real person out)."""
    from facegate.bench.liveness_bench import VIDEOS, Seen, link_tracks, passive_state
    from facegate.bench.liveness_synth import read_video

    states: list[str] = []
    for name in VIDEOS:
        frames = read_video(faces_dir / "videos" / name, max_frames=150)
        per_frame = [[Seen(d.box, d.landmarks) for d in engine.detect(f)] for f in frames]
        for track in link_tracks(per_frame):
            for start in range(0, len(track) - RULES.min_frames + 1, RULES.window):
                states.append(passive_state(track[start : start + RULES.window], RULES))
    assert len(states) >= 15
    assert "spoof" not in states
    assert states.count("live") >= 5  # the podium speakers do turn their heads
