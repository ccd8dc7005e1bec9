"""Landmark geometry shared by every liveness check: head pose and plane parallax.

Head pose (yaw, pitch, roll) comes from ``facegate.engine.quality.estimate_pose``, the one
place for that rule (the enrolment quality gate uses it too). Signs, in image coordinates of
an unmirrored camera: yaw > 0 when the nose moves toward the image's right (the person turns
to *their* left), pitch < 0 when the nose moves up toward the eye line (the chin comes up).

**Plane parallax** is what tells a head from a picture of one. A photo or a screen is a
plane, and any view of a plane is a homography of any other view. Four of the five landmarks
(the eyes and the mouth corners) fix that homography exactly; on a photo it then also carries
the nose to where the nose is seen. On a real head the nose tip stands about two centimetres
in front of the eye-mouth plane, so when the head turns, the nose moves off the position the
homography predicts. That miss, divided by the inter-ocular distance so it does not depend on
the face's size in the frame, is ``parallax``. A tilted photo can make the pose estimate
change (the projection shears the nose against the eyes) but it cannot produce parallax.

``deformation`` measures how far the four planar points moved *other* than by a similarity
(shift, scale, in-plane rotation): the foreshortening that any out-of-plane rotation of a
head or of a photo causes. Both are relative to a reference view of the same track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.engine.quality import estimate_pose

_PLANAR = [0, 1, 3, 4]  # eyes and mouth corners; 2 is the nose tip


@dataclass(frozen=True, slots=True)
class Pose:
    """Degrees; see the module docstring for the signs."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: np.ndarray) -> Pose:
    """The head pose of five landmarks (YuNet order: image-left eye, image-right eye, nose,
    image-left and image-right mouth corners)."""
    yaw, pitch, roll = estimate_pose(np.asarray(landmarks, dtype=np.float64))
    return Pose(yaw, pitch, roll)


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the eyes in pixels (the unit of every normalised measure here)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(pts[1] - pts[0]))


@dataclass(frozen=True, slots=True)
class PlaneFit:
    """How a view of a face relates to a reference view (both in inter-ocular distances)."""

    parallax: float  # nose miss after the 4-point plane homography
    deformation: float  # 4 planar points' residual after the best similarity transform


def plane_fit(reference: np.ndarray, current: np.ndarray) -> PlaneFit | None:
    """Parallax and deformation of ``current`` against ``reference``; None if degenerate."""
    ref = np.asarray(reference, dtype=np.float64).reshape(5, 2)
    cur = np.asarray(current, dtype=np.float64).reshape(5, 2)
    scale = inter_ocular(cur)
    if scale < 1.0 or inter_ocular(ref) < 1.0:
        return None
    try:
        h = cv2.getPerspectiveTransform(
            ref[_PLANAR].astype(np.float32), cur[_PLANAR].astype(np.float32)
        )
    except cv2.error:
        return None
    if not np.all(np.isfinite(h)):
        return None
    nose = h @ np.array([ref[2, 0], ref[2, 1], 1.0])
    if abs(nose[2]) < 1e-9:
        return None
    predicted = nose[:2] / nose[2]
    parallax = float(np.linalg.norm(predicted - cur[2])) / scale
    return PlaneFit(parallax, _similarity_residual(ref[_PLANAR], cur[_PLANAR]) / scale)


def _similarity_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS distance of ``dst`` from the best similarity image of ``src`` (Umeyama, closed
    form for 2-D points as complex numbers)."""
    a = src[:, 0] + 1j * src[:, 1]
    b = dst[:, 0] + 1j * dst[:, 1]
    a0, b0 = a - a.mean(), b - b.mean()
    denom = float(np.vdot(a0, a0).real)
    if denom < 1e-12:
        return math.inf
    k = np.vdot(a0, b0) / denom  # scale * rotation
    return float(np.sqrt(np.mean(np.abs(k * a0 - b0) ** 2)))


def is_deep(fit: PlaneFit, min_parallax: float, min_ratio: float) -> bool:
    """Whether a view shows a 3-D face: nose parallax of at least ``min_parallax`` and at
    least ``min_ratio`` times the planar points' deformation. A real head turning 20-45
    degrees shows parallax 3 to 7 times its deformation; a strongly tilted picture, whose
    landmarks the detector bends a little toward a head's, about equal amounts."""
    return fit.parallax >= min_parallax and fit.parallax >= min_ratio * fit.deformation
