"""The passive flat-face check: is a track's face a 3-D head, or a picture of one?

Over the last ``window`` frames of a track, each frame's five landmarks are compared with a
few reference frames of the same track (``geometry.plane_fit``): the four planar points give
the plane homography between the two views, and the nose tip's miss from where that
homography puts it is the *parallax*. Then:

Landmarks are averaged over three consecutive frames first: YuNet's landmarks jitter by about
a pixel from frame to frame, a large share of the parallax of a 150-pixel face.

- **live**: several frames (a quarter of the window, at least three) show parallax of at
  least ``live_parallax`` inter-ocular distances and at least ``depth_ratio`` times the
  planar deformation (``geometry.is_deep``): the nose moved off the face's plane, which no
  flat picture can do (a strongly tilted one makes the detector bend its landmarks a little,
  but by no more than the tilt deforms them).
- **spoof**: the face was seen from clearly different angles (``deformation`` of the planar
  points of at least ``min_deformation``) on several frames, and there the parallax stayed
  below ``flat_ratio`` times that deformation: the views are one plane's (a photo or screen
  tilted, shaken or brought closer).
- **undecided**: neither, i.e. the face only shifted, scaled or rolled in the image plane.
  A real head that does not turn looks exactly like a photo that does not tilt, so the check
  says it cannot tell, and the door decides what undecided means.
- **pending**: fewer than ``min_frames`` usable frames so far.

Faces whose boxes are smaller than ``min_face_px`` are skipped: their landmark noise is a
large share of their size. A video of a real person replayed on a screen shows that person's
parallax: this check does not catch video replays (docs/liveness.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from facegate.config.base import default_of
from facegate.config.liveness import ChallengeSettings, PassiveSettings
from facegate.liveness import LivenessVerdict
from facegate.liveness.geometry import PlaneFit, is_deep, plane_fit

if TYPE_CHECKING:
    from facegate.config import Settings

_REFERENCES = 3  # frames of the window used as references (first, a third, two thirds)


@dataclass(frozen=True, slots=True)
class PassiveRules:
    """Thresholds of the passive check (from ``Settings.liveness_passive_*``)."""

    window: int = default_of(PassiveSettings, "window")
    min_frames: int = default_of(PassiveSettings, "min_frames")
    live_parallax: float = default_of(PassiveSettings, "live_parallax")
    min_deformation: float = default_of(PassiveSettings, "min_deformation")
    flat_ratio: float = default_of(PassiveSettings, "flat_ratio")
    min_face_px: float = default_of(PassiveSettings, "min_face_px")
    depth_ratio: float = default_of(ChallengeSettings, "min_depth_ratio")

    @classmethod
    def from_settings(cls, s: Settings) -> PassiveRules:
        return cls(
            window=s.liveness.passive.window,
            min_frames=s.liveness.passive.min_frames,
            live_parallax=s.liveness.passive.live_parallax,
            min_deformation=s.liveness.passive.min_deformation,
            flat_ratio=s.liveness.passive.flat_ratio,
            min_face_px=s.liveness.passive.min_face_px,
            depth_ratio=s.liveness.challenge.min_depth_ratio,
        )


class PassiveTrack:
    """The landmarks of one track's recent frames and the verdict they support."""

    def __init__(self, rules: PassiveRules) -> None:
        self.rules = rules
        self._marks: deque[np.ndarray] = deque(maxlen=rules.window)

    def add(self, landmarks: np.ndarray, face_px: float) -> None:
        """One frame's five landmarks and the face box's shorter side in pixels."""
        if face_px < self.rules.min_face_px:
            return
        marks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
        if np.all(np.isfinite(marks)):
            self._marks.append(marks)

    @property
    def frames(self) -> int:
        return len(self._marks)

    def verdict(self) -> LivenessVerdict:
        r = self.rules
        n = len(self._marks)
        if n < r.min_frames:
            return LivenessVerdict("pending", "passive", "collecting frames", {"frames": n})
        marks = _smoothed(list(self._marks))
        refs = sorted({0, n // 3, (2 * n) // 3})[:_REFERENCES]
        best: list[PlaneFit] = []  # per frame: the fit with the most deformation
        for j in range(n):
            fits = [plane_fit(marks[i], marks[j]) for i in refs if i != j]
            usable = [f for f in fits if f is not None]
            if usable:
                best.append(max(usable, key=lambda f: (f.deformation, f.parallax)))
        parallax = np.array([f.parallax for f in best]) if best else np.zeros(0)
        deform = np.array([f.deformation for f in best]) if best else np.zeros(0)
        needed = max(3, int(0.25 * n))
        live_frames = sum(is_deep(f, r.live_parallax, r.depth_ratio) for f in best)
        moved = deform >= r.min_deformation
        ratio = float(np.median(parallax[moved] / deform[moved])) if moved.any() else 0.0
        details = {
            "frames": float(n),
            "parallax_p90": round(float(np.percentile(parallax, 90)), 4) if best else 0.0,
            "deformation_p90": round(float(np.percentile(deform, 90)), 4) if best else 0.0,
            "live_frames": float(live_frames),
            "moved_frames": float(int(moved.sum())),
            "flat_ratio": round(ratio, 4),
        }
        if live_frames >= needed:
            return LivenessVerdict("live", "passive", "3-D parallax", details)
        if int(moved.sum()) >= needed and ratio < r.flat_ratio:
            return LivenessVerdict("spoof", "passive", "planar motion", details)
        return LivenessVerdict("undecided", "passive", "too little out-of-plane motion", details)


def _smoothed(marks: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame's landmarks averaged with its neighbours (a centred window of three)."""
    if len(marks) < 3:
        return marks
    stack = np.stack(marks)
    out = stack.copy()
    out[1:-1] = (stack[:-2] + stack[1:-1] + stack[2:]) / 3.0
    return list(out)
