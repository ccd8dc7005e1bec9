"""The typed values that leave the engine: boxes, quality reports and faces."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels of the original image (x, y is the top-left corner)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def iou(self, other: Box) -> float:
        """Intersection over union; 0 for disjoint or empty boxes."""
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` to 0.1 pixel, as events and stream results carry a box."""
        return (round(self.x, 1), round(self.y, 1), round(self.w, 1), round(self.h, 1))

    def as_list(self) -> list[float]:
        return list(self.as_tuple())


@dataclass(frozen=True, slots=True)
class Quality:
    """Why a face is or is not good enough to enrol.

    ``face_px`` is the face box's shorter side in pixels, ``sharpness`` the variance of the
    Laplacian of the aligned crop, ``yaw``/``pitch``/``roll`` degrees estimated from the five
    landmarks. ``reasons`` names each failed check (empty when ``ok``).
    """

    face_px: float
    sharpness: float
    yaw: float
    pitch: float
    roll: float
    det_score: float
    ok: bool
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "face_px": round(self.face_px, 1),
            "sharpness": round(self.sharpness, 1),
            "yaw": round(self.yaw, 1),
            "pitch": round(self.pitch, 1),
            "roll": round(self.roll, 1),
            "det_score": round(self.det_score, 3),
            "ok": self.ok,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector hit: box, five landmarks, score.

    Landmark order: image-left eye, image-right eye, nose tip, image-left and image-right
    mouth corners (the order of the alignment template).
    """

    box: Box
    landmarks: np.ndarray = field(compare=False)
    score: float


@dataclass(frozen=True, slots=True)
class Face:
    """A detected, aligned, quality-checked face with its L2-normalised embedding."""

    box: Box
    landmarks: np.ndarray = field(compare=False)
    score: float
    quality: Quality
    embedding: np.ndarray = field(compare=False, repr=False)

    def landmarks_list(self) -> list[list[float]]:
        return [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks]
