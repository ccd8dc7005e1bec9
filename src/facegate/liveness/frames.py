"""The HTTP liveness check: a challenge answered by a sequence of uploaded frames.

The enrol and identify pages ask for a challenge, show its steps one after the other while
the webcam records a few frames a second, and upload the frames with their capture times
(milliseconds since the page started the challenge). ``verify_frames`` follows the main face
through them (the most prominent face of the first frame, then the best-overlapping face of
each next frame), runs the same ``ChallengeRun`` and ``PassiveTrack`` the TCP path runs on a
track, and the bring-your-own model when one is configured. It runs on the inference pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.engine import prominence
from facegate.engine.types import Box
from facegate.errors import InvalidInput
from facegate.liveness import LivenessVerdict
from facegate.liveness.challenge import ChallengeRules, ChallengeRun, Direction, StepResult
from facegate.liveness.model import SpoofModel
from facegate.liveness.passive import PassiveRules, PassiveTrack

_MIN_FOLLOW_IOU = 0.2  # a face overlapping the previous one less than this is somebody else
_MODEL_FRAMES = 5
CLOCK_SLACK_S = 2.0  # frames may not claim more time than really passed, beyond this


@dataclass(frozen=True, slots=True)
class FramesOutcome:
    """The verdict of one uploaded challenge and what it rests on."""

    verdict: LivenessVerdict
    steps: tuple[StepResult, ...]
    frames: int
    frames_with_face: int
    passive: LivenessVerdict

    def as_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "verdict": {
                "state": v.state,
                "method": v.method,
                "reason": v.reason,
                "details": v.details,
            },
            "steps": [s.as_dict() for s in self.steps],
            "frames": self.frames,
            "frames_with_face": self.frames_with_face,
            "passive": {"state": self.passive.state, "reason": self.passive.reason},
        }


def check_times(times: object, frames: int, timeout_s: float, elapsed_s: float) -> list[float]:
    """The frames' capture times in seconds, checked: one per frame, finite, in order, within
    the challenge's time limit and not later than the time that really passed."""
    if not isinstance(times, list) or len(times) != frames:
        raise InvalidInput(f"times must be a list of {frames} numbers (ms), one per frame")
    out: list[float] = []
    for value in times:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("times must be numbers (milliseconds since the challenge began)")
        t = float(value) / 1000.0
        if not math.isfinite(t) or t < 0 or (out and t < out[-1]):
            raise InvalidInput("times must be finite, >= 0 and in increasing order")
        out.append(t)
    if out and out[-1] > min(timeout_s, elapsed_s + CLOCK_SLACK_S):
        raise InvalidInput("frames fall outside the challenge's time limit")
    return out


def _follow(engine: FaceEngine, image: np.ndarray, previous: Box | None) -> tuple[Any, Box] | None:
    found = engine.detect(image)
    if not found:
        return None
    if previous is None:
        h, w = image.shape[:2]
        best = max(found, key=lambda d: prominence(d, w, h))
    else:
        best = max(found, key=lambda d: d.box.iou(previous))
        if best.box.iou(previous) < _MIN_FOLLOW_IOU:
            return None
    return best.landmarks, best.box


def verify_frames(
    engine: FaceEngine,
    jpegs: list[bytes],
    times_s: list[float],
    steps: tuple[Direction, ...],
    rules: ChallengeRules,
    passive_rules: PassiveRules,
    model: SpoofModel | None = None,
) -> FramesOutcome:
    """Decode and judge the frames (``BadImage`` for one that is not an image)."""
    run = ChallengeRun(steps, rules, 0.0)
    passive = PassiveTrack(passive_rules)
    scores: list[float] = []
    previous: Box | None = None
    with_face = 0
    for jpeg, t in zip(jpegs, times_s, strict=True):
        image = engine.load(jpeg)
        seen = _follow(engine, image, previous)
        if seen is None:
            run.tick(t)
            continue
        marks, box = seen
        previous = box
        with_face += 1
        passive.add(marks, min(box.w, box.h))
        run.feed(t, marks)
        if model is not None and len(scores) < _MODEL_FRAMES and with_face % 3 == 1:
            scores.append(model.live_score(image, box))
    if run.state == "running":  # the upload ended before the last step: it ran out of time
        run.tick(math.inf)
    passive_verdict = passive.verdict()
    results = tuple(run.results) + tuple(run.remaining())
    details: dict[str, float] = {
        "steps": float(len(steps)),
        "steps_passed": float(sum(r.passed for r in run.results)),
    }
    method = "challenge"
    verdict: LivenessVerdict
    if model is not None and scores:
        details["model_score"] = round(float(np.mean(scores)), 4)
        method = f"challenge+{model.method}"
    if run.state != "passed":
        verdict = LivenessVerdict("spoof", method, run.reason, details)
    elif passive_verdict.state == "spoof":
        verdict = LivenessVerdict("spoof", method, "planar motion", details)
    elif (
        "model_score" in details
        and model is not None
        and (details["model_score"] < model.config.threshold)
    ):
        verdict = LivenessVerdict("spoof", method, "model says spoof", details)
    else:
        verdict = LivenessVerdict("live", method, "all steps passed", details)
    return FramesOutcome(verdict, results, len(jpegs), with_face, passive_verdict)
