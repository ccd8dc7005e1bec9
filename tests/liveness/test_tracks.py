"""``track_liveness``: the per-stream TrackLiveness in passive and challenge mode, fed tracked
faces frame by frame (synthetic 3-D head landmarks), with prompts collected from the sink."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine.types import Box
from facegate.liveness import LivenessVerdict, track_liveness
from facegate.stream.pipeline import TrackedFace
from facegate.stream.protocol import prompt_message
from tests.liveness.heads import HEAD, PHOTO, turn_sequence, view

IMAGE = np.zeros((480, 640, 3), np.uint8)


def face(track_id: int, marks: np.ndarray) -> TrackedFace:
    return TrackedFace(
        Box(250, 150, 150, 150), track_id, None, None, 0.0, False, tuple(map(tuple, marks))
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def challenge_liveness(sink: list[Mapping[str, Any]], **settings: object):
    from facegate.liveness.tracks import StreamLiveness

    clock = Clock()
    liveness = StreamLiveness(
        "challenge",
        Settings(**settings),
        sink.append,
        clock=clock,
    )
    return liveness, clock


def test_off_is_always_live_and_unknown_modes_are_refused():
    assert track_liveness("off").verdict(3) == LivenessVerdict("live", "off", "not required")
    with pytest.raises(ValueError):
        track_liveness("sometimes")  # type: ignore[arg-type]  # an unknown mode, on purpose


def test_passive_mode_follows_each_track():
    liveness = track_liveness("passive", settings=Settings())
    assert liveness.verdict(1).state == "pending"
    for i in range(30):
        turning = view(HEAD, 25 * math.sin(i / 4))
        liveness.observe([face(1, turning), face(2, view(HEAD))], IMAGE)
    assert liveness.verdict(1).state == "live"
    assert liveness.verdict(2).state == "undecided"


def test_a_challenge_answered_by_a_turning_head_is_live_and_prompts_every_step():
    sink: list[Mapping[str, Any]] = []
    liveness, clock = challenge_liveness(sink, liveness_challenge_steps=3)
    liveness.observe([face(5, view(HEAD))], IMAGE)
    liveness.request(5)
    liveness.request(5)  # asking again does not start a second challenge
    assert [m["type"] for m in sink] == ["CHALLENGE"]
    steps = sink[0]["steps"]
    assert liveness.verdict(5).state == "pending"
    for t, marks in turn_sequence(HEAD, [(s, 30.0) for s in steps]):
        clock.now = 100.0 + t
        liveness.observe([face(5, marks)], IMAGE)
    types = [m["type"] for m in sink]
    assert types == [
        "CHALLENGE",
        "CHALLENGE_STEP",
        "CHALLENGE_STEP",
        "CHALLENGE_STEP",
        "CHALLENGE_RESULT",
    ]
    assert [m["next"] for m in sink[1:4]] == [steps[1], steps[2], None]
    assert sink[-1]["state"] == "live"
    for message in sink:  # every prompt is a valid protocol message
        prompt_message(message)
    verdict = liveness.verdict(5)
    assert verdict.state == "live" and verdict.details["steps_passed"] == 3


def test_a_challenge_fails_on_timeout_even_when_the_face_is_gone():
    sink: list[Mapping[str, Any]] = []
    liveness, clock = challenge_liveness(sink, liveness_challenge_timeout_s=2.0)
    liveness.observe([face(9, view(PHOTO))], IMAGE)
    liveness.request(9)
    clock.now += 2.5
    liveness.observe([], IMAGE)  # nobody in front of the camera any more
    assert [m["type"] for m in sink] == ["CHALLENGE", "CHALLENGE_STEP", "CHALLENGE_RESULT"]
    assert sink[1]["passed"] is False and sink[1]["reason"] == "timeout"
    assert liveness.verdict(9).state == "spoof"


def test_without_a_prompt_sink_a_challenge_is_undecided():
    liveness = track_liveness("challenge", settings=Settings())
    liveness.observe([face(1, view(HEAD))], IMAGE)
    liveness.request(1)
    assert liveness.verdict(1) == LivenessVerdict("undecided", "challenge", "no client to prompt")


def test_a_broken_sink_does_not_break_the_stream():
    def broken(message: object) -> None:
        raise ConnectionError("client gone")

    liveness = track_liveness("challenge", prompt=broken, settings=Settings())
    liveness.observe([face(1, view(HEAD))], IMAGE)
    liveness.request(1)  # logged, not raised
    assert liveness.verdict(1).state == "pending"


def test_tracks_not_seen_for_long_are_forgotten():
    from facegate.liveness.tracks import _FORGET_FRAMES

    liveness = track_liveness("passive", settings=Settings())
    liveness.observe([face(1, view(HEAD))], IMAGE)
    for _ in range(_FORGET_FRAMES + 1):
        liveness.observe([], IMAGE)
    assert liveness.verdict(1) == LivenessVerdict("pending", "passive", "track not seen")
