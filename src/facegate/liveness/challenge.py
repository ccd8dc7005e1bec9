"""Challenge-response: the person turns the head in a random order of steps, in time.

A step (``left``, ``right`` or ``up``) passes when the head pose, measured against the pose
at the start of the challenge, reaches the step's target *with plane parallax* (the nose
leaves the eye-mouth plane, see ``geometry``), and then comes back toward the start. A
picture cannot do this: shearing or tilting a photo can move the pose estimate, but the
nose stays where the photo's plane puts it, so the step never passes and the challenge ends
``flat`` or ``timeout``. Measured on the real detector, a photo tilted by 50 degrees or more
*does* show some parallax (YuNet places the landmarks of a strongly foreshortened face as if
it were a turned head), but with a planar deformation of the same size; a real head's
parallax is several times its deformation, so a step also needs
``parallax >= min_depth_ratio x deformation`` (``geometry.is_deep``). That is not always
enough: ``facegate bench liveness`` measures how often a photo tilted by 55-70 degrees still
passes (``photo_steep``). Turning the wrong way first fails at once (``wrong_direction``):
the order is random exactly so that a recording of somebody else's answer does not fit.

``ChallengeRun`` is a pure state machine over (time, landmarks) samples: the TCP path feeds
it a track's landmarks frame by frame, the HTTP path the main face of each uploaded frame.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from facegate.config.base import default_of
from facegate.config.liveness import ChallengeSettings
from facegate.liveness.geometry import Pose, head_pose, is_deep, plane_fit

if TYPE_CHECKING:
    from facegate.config import Settings

Direction = Literal["left", "right", "up"]
DIRECTIONS: tuple[Direction, ...] = ("left", "right", "up")
RunState = Literal["running", "passed", "failed"]
# Another direction must exceed its own target by this factor, and beat the expected step,
# before it counts as turning the wrong way (pose estimates of one axis leak into the other).
WRONG_MARGIN = 1.25


@dataclass(frozen=True, slots=True)
class ChallengeRules:
    """Thresholds of the challenge (from ``Settings.liveness_*``)."""

    steps: int = default_of(ChallengeSettings, "steps")
    directions: tuple[Direction, ...] = tuple(default_of(ChallengeSettings, "directions"))
    timeout_s: float = default_of(ChallengeSettings, "timeout_s")
    yaw_target_deg: float = default_of(ChallengeSettings, "yaw_target_deg")
    pitch_target_deg: float = default_of(ChallengeSettings, "pitch_target_deg")
    return_deg: float = default_of(ChallengeSettings, "return_deg")
    min_parallax: float = default_of(ChallengeSettings, "min_parallax")
    min_depth_ratio: float = default_of(ChallengeSettings, "min_depth_ratio")

    @classmethod
    def from_settings(cls, s: Settings) -> ChallengeRules:
        return cls(
            steps=s.liveness.challenge.steps,
            directions=tuple(s.liveness.challenge.directions),
            timeout_s=s.liveness.challenge.timeout_s,
            yaw_target_deg=s.liveness.challenge.yaw_target_deg,
            pitch_target_deg=s.liveness.challenge.pitch_target_deg,
            return_deg=s.liveness.challenge.return_deg,
            min_parallax=s.liveness.challenge.min_parallax,
            min_depth_ratio=s.liveness.challenge.min_depth_ratio,
        )


def random_steps(rules: ChallengeRules) -> tuple[Direction, ...]:
    """``rules.steps`` directions in a random order (cryptographic randomness: the order is
    what a replayed answer would have to guess); no direction twice in a row."""
    rng = secrets.SystemRandom()
    pool = list(dict.fromkeys(rules.directions))
    out: list[Direction] = []
    while len(out) < rules.steps:
        batch = rng.sample(pool, len(pool))
        if out and len(batch) > 1 and batch[0] == out[-1]:
            batch.reverse()
        out.extend(batch)
    return tuple(out[: rules.steps])


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step ended. ``peak``: the largest move toward the step's target, in units of
    the target (>= 1 reached it); ``parallax``: the largest nose parallax seen meanwhile."""

    index: int
    direction: Direction
    passed: bool
    reason: str  # "passed", "timeout", "flat", "wrong_direction", "not_attempted"
    at_s: float
    peak: float
    parallax: float

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "step": self.direction,
            "passed": self.passed,
            "reason": self.reason,
            "at_s": round(self.at_s, 3),
            "peak": round(self.peak, 3),
            "parallax": round(self.parallax, 4),
        }


def _progress(delta_yaw: float, delta_pitch: float, rules: ChallengeRules) -> dict[str, float]:
    """Move toward each direction in units of its target (1.0 = reached)."""
    return {
        "left": delta_yaw / rules.yaw_target_deg,
        "right": -delta_yaw / rules.yaw_target_deg,
        "up": -delta_pitch / rules.pitch_target_deg,
    }


@dataclass
class ChallengeRun:
    """One challenge's state machine. Feed samples in time order (seconds, any clock that
    started with the challenge or before it); read ``state``, ``results``, ``reason``."""

    steps: tuple[Direction, ...]
    rules: ChallengeRules
    started: float
    state: RunState = "running"
    reason: str = ""
    results: list[StepResult] = field(default_factory=list)
    _base_pose: Pose | None = None
    _base_marks: np.ndarray | None = None
    _phase: Literal["turn", "return"] = "turn"
    _peak: float = 0.0
    _parallax: float = 0.0
    _flat: bool = False

    @property
    def current(self) -> int:
        """Index of the step in progress (== len(steps) when all passed)."""
        return len(self.results)

    def feed(self, t: float, landmarks: np.ndarray) -> list[StepResult]:
        """One sample of the face; returns the steps that ended with it."""
        if self.state != "running":
            return []
        ended = self.tick(t)
        if ended:
            return ended
        marks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
        pose = head_pose(marks)
        if self._base_pose is None or self._base_marks is None:
            self._base_pose, self._base_marks = pose, marks
            return []
        fit = plane_fit(self._base_marks, marks)
        parallax = fit.parallax if fit is not None else 0.0
        deep = fit is not None and is_deep(fit, self.rules.min_parallax, self.rules.min_depth_ratio)
        progress = _progress(
            pose.yaw - self._base_pose.yaw, pose.pitch - self._base_pose.pitch, self.rules
        )
        expected = self.steps[self.current]
        mine = progress[expected]
        if self._phase == "turn":
            others = max(v for k, v in progress.items() if k != expected)
            if others >= WRONG_MARGIN and others > mine and deep:
                return self._end(t, False, "wrong_direction")
            if mine >= 1.0:
                self._peak = max(self._peak, mine)
                if deep:
                    self._parallax = max(self._parallax, parallax)
                    self._phase = "return"
                else:
                    self._flat = True
            else:
                self._peak = max(self._peak, mine)
            return []
        # Returning: the step's own axis comes back within return_deg of the start.
        self._peak = max(self._peak, mine)
        self._parallax = max(self._parallax, parallax)
        target = self.rules.pitch_target_deg if expected == "up" else self.rules.yaw_target_deg
        if mine * target <= self.rules.return_deg:
            return self._end(t, True, "passed")
        return []

    def tick(self, t: float) -> list[StepResult]:
        """Check the time limit (also when no face was seen); returns the failed step."""
        if self.state == "running" and t - self.started > self.rules.timeout_s:
            return self._end(t, False, "flat" if self._flat else "timeout")
        return []

    def _end(self, t: float, passed: bool, reason: str) -> list[StepResult]:
        index = self.current
        result = StepResult(
            index, self.steps[index], passed, reason, t - self.started, self._peak, self._parallax
        )
        self.results.append(result)
        self._phase, self._peak, self._parallax, self._flat = "turn", 0.0, 0.0, False
        if not passed:
            self.state, self.reason = "failed", reason
            return [result]
        if self.current == len(self.steps):
            self.state, self.reason = "passed", "all steps passed"
        return [result]

    def remaining(self) -> list[StepResult]:
        """The steps never attempted (after a failure), for a complete report."""
        return [
            StepResult(i, self.steps[i], False, "not_attempted", 0.0, 0.0, 0.0)
            for i in range(self.current, len(self.steps))
        ]
