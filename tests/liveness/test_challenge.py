"""The challenge state machine on synthetic landmark sequences (a 3-D head model and a flat
picture of it) and on the real detector's landmarks of synthetic photo-attack frames."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pytest

from facegate.config import Settings
from facegate.liveness.challenge import (
    ChallengeRules,
    ChallengeRun,
    Direction,
    StepResult,
    random_steps,
)
from tests.images import read_image
from tests.liveness.heads import HEAD, PHOTO, turn_sequence, view

RULES = ChallengeRules()


def run_through(
    steps: tuple[Direction, ...],
    samples: Iterable[tuple[float, np.ndarray]],
    rules: ChallengeRules = RULES,
) -> tuple[ChallengeRun, list[StepResult]]:
    run = ChallengeRun(steps, rules, 0.0)
    ended: list[StepResult] = []
    for t, marks in samples:
        ended += run.feed(t, marks)
    return run, ended


def test_a_head_turning_in_the_asked_order_passes_every_step():
    samples = turn_sequence(HEAD, [("left", 30), ("up", 25), ("right", 30)])
    run, ended = run_through(("left", "up", "right"), samples)
    assert run.state == "passed"
    assert [(s.direction, s.passed, s.reason) for s in ended] == [
        ("left", True, "passed"),
        ("up", True, "passed"),
        ("right", True, "passed"),
    ]
    assert all(s.parallax >= RULES.min_parallax and s.peak >= 1.0 for s in ended)


def test_turning_the_wrong_way_first_fails_at_once():
    samples = turn_sequence(HEAD, [("right", 30), ("left", 30), ("up", 25)])
    run, ended = run_through(("left", "right", "up"), samples)
    assert run.state == "failed" and run.reason == "wrong_direction"
    assert [(s.index, s.passed) for s in ended] == [(0, False)]
    assert [s.reason for s in run.remaining()] == ["not_attempted", "not_attempted"]


def test_a_head_that_stops_after_one_step_times_out():
    samples = turn_sequence(HEAD, [("left", 30)])
    run, ended = run_through(("left", "right"), samples)
    # compared as a pair: a narrowed run.state would hide the tick's change from mypy
    assert (run.state, [s.passed for s in ended]) == ("running", [True])
    assert run.tick(RULES.timeout_s - 0.1) == []
    late = run.tick(RULES.timeout_s + 0.1)
    assert run.state == "failed" and [(s.direction, s.reason) for s in late] == [
        ("right", "timeout")
    ]


def test_a_turn_that_never_comes_back_does_not_pass():
    samples = [(i / 15, view(HEAD, yaw=min(30.0, 3.0 * i))) for i in range(40)]
    run, ended = run_through(("left",), samples)
    assert ended == [] and run.state == "running"


def test_a_photo_tilted_in_the_asked_order_never_passes():
    samples = turn_sequence(PHOTO, [("left", 45), ("up", 45), ("right", 45)])
    run, ended = run_through(("left", "up", "right"), samples)
    assert ended == [] and run.state == "running"
    assert run.tick(RULES.timeout_s + 1)[0].reason == "timeout"


def test_a_sheared_picture_that_fakes_the_pose_fails_as_flat():
    """Shearing a picture moves the nose against the eyes, so the pose estimate turns; but
    the nose stays where the picture's plane puts it: no parallax, the step never passes."""
    base = view(PHOTO)
    samples = []
    for i in range(45):
        k = 0.5 * np.sin(np.pi * i / 44)  # shear out and back
        sheared = base.copy()
        sheared[:, 0] += k * (base[:, 1] - base[0, 1])
        samples.append((i / 15, sheared))
    run, ended = run_through(("left",), samples)
    assert ended == [] and run.state == "running"
    failed = run.tick(RULES.timeout_s + 1)
    assert failed[0].reason == "flat" and failed[0].peak >= 1.0 and failed[0].parallax == 0.0


def test_random_steps_follow_the_settings_and_never_repeat_back_to_back():
    rules = ChallengeRules.from_settings(Settings(liveness_challenge_steps=5))
    for _ in range(50):
        steps = random_steps(rules)
        assert len(steps) == 5 and set(steps) <= {"left", "right", "up"}
        assert all(a != b for a, b in itertools.pairwise(steps))
    only = ChallengeRules.from_settings(
        Settings(liveness_challenge_steps=2, liveness_challenge_directions=["left", "right"])
    )
    assert {random_steps(only) for _ in range(40)} == {("left", "right"), ("right", "left")}


@pytest.mark.parametrize("motion", ["tilt", "shake", "approach"])
@pytest.mark.slow
def test_real_detector_on_a_moved_photo_never_passes(engine, faces_dir, motion):
    from facegate.bench.liveness_bench import main_face
    from facegate.bench.liveness_synth import face_print, photo_attack

    photo = read_image(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg")
    box = max(engine.detect(photo), key=lambda d: d.box.area).box
    printed = face_print(photo, (box.x, box.y, box.w, box.h))
    seen = [main_face(engine, f) for f in photo_attack(printed, motion, 45, 3)]
    assert sum(s is not None for s in seen) >= 40  # the detector does see a face
    for steps in (("left", "right", "up"), ("up", "left", "right")):
        run = ChallengeRun(steps, RULES, 0.0)
        for i, s in enumerate(seen):
            if s is not None:
                run.feed(i / 15, s.landmarks)
        assert run.state != "passed"
        assert not any(r.passed for r in run.results)


@pytest.mark.slow
def test_real_detector_on_a_real_head_turn_passes_in_its_direction_only(engine, faces_dir):
    """In the first 6 s of obama.mp4 the speaker turns to his right by ~30 degrees and back:
    a one-step challenge "right" passes on YuNet's landmarks; "left" fails, wrong way first."""
    from facegate.bench.liveness_bench import main_face
    from facegate.bench.liveness_synth import read_video

    frames = read_video(faces_dir / "videos" / "obama.mp4", max_frames=150)
    seen = [main_face(engine, f) for f in frames]
    assert sum(s is not None for s in seen) >= 140
    outcomes = {}
    for steps in (("right",), ("left",)):
        run = ChallengeRun(steps, RULES, 0.0)
        for i, s in enumerate(seen):
            if s is not None:
                run.feed(i / 25.0, s.landmarks)  # the clip runs at 25 frames/s
        outcomes[steps[0]] = (run.state, run.reason, run.results)
    state, _, results = outcomes["right"]
    assert state == "passed" and results[0].peak >= 1.0
    assert results[0].parallax >= RULES.min_parallax
    assert outcomes["left"][:2] == ("failed", "wrong_direction")
