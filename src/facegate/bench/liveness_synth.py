"""Synthetic presentation attacks for measuring liveness where no attack videos exist.

- **Printed photo**: a dev photo on a plane in front of a pinhole camera, moved the way a
  hand holds a print: ``tilt`` (turned about its vertical and horizontal axes, the way an
  attacker would try to follow a challenge), ``shake`` (small shifts and in-plane rotation)
  and ``approach`` (brought toward the camera). Each frame is the photo warped by the
  plane's homography onto a textured background. ``steep`` is ``tilt`` at 55-70 degrees.
- **Screen replay**: frames of a dev video pasted onto such a moving plane (a phone or
  monitor held in front of the camera).

Everything here is deterministic for a given seed. Frames are BGR arrays; nothing is
written to disk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Motion = Literal["tilt", "steep", "shake", "approach"]
MOTIONS: tuple[Motion, ...] = ("tilt", "steep", "shake", "approach")
FRAME_W, FRAME_H = 640, 480
_FOCAL = 600.0


@dataclass(frozen=True, slots=True)
class PlanePose:
    """Where the picture's plane is: rotations in degrees, position in picture widths."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    x: float = 0.0
    y: float = 0.0
    distance: float = 1.6  # camera to plane centre, in picture widths (face ~150 px)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return np.asarray(ry @ rx @ rz)


def plane_homography(width: int, height: int, pose: PlanePose) -> np.ndarray:
    """The 3x3 map from picture pixels to frame pixels for a picture at ``pose``."""
    aspect = height / width
    corners = np.array(
        [
            [-0.5, -0.5 * aspect, 0],
            [0.5, -0.5 * aspect, 0],
            [0.5, 0.5 * aspect, 0],
            [-0.5, 0.5 * aspect, 0],
        ]
    )
    world = corners @ _rotation(pose.yaw, pose.pitch, pose.roll).T
    world += np.array([pose.x, pose.y, pose.distance])
    scale = _FOCAL * 0.9
    dst = np.stack(
        [
            scale * world[:, 0] / world[:, 2] + FRAME_W / 2,
            scale * world[:, 1] / world[:, 2] + FRAME_H / 2,
        ],
        axis=1,
    )
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst.astype(np.float32)))


def background(seed: int) -> np.ndarray:
    """A textured, face-free background (smoothed noise, like a wall or a room)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, size=(12, 16, 3), dtype=np.uint8)
    return cv2.resize(small, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)


def render(picture: np.ndarray, pose: PlanePose, back: np.ndarray) -> np.ndarray:
    """The frame a camera sees with ``picture`` held at ``pose`` in front of ``back``."""
    h, w = picture.shape[:2]
    hom = plane_homography(w, h, pose)
    warped = cv2.warpPerspective(picture, hom, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), hom, (FRAME_W, FRAME_H))
    out = back.copy()
    out[mask > 127] = warped[mask > 127]
    return out


def motion_poses(motion: Motion, frames: int, seed: int) -> list[PlanePose]:
    """A hand's movement of the picture over ``frames`` frames."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, frames)
    if motion in ("tilt", "steep"):  # left, right, up: how an attacker answers a challenge
        amp = rng.uniform(25, 40) if motion == "tilt" else rng.uniform(55, 70)
        yaw = amp * np.sin(2 * math.pi * t) * (t < 0.66)
        pitch = -amp * 0.8 * np.sin(3 * math.pi * (t - 0.66)) * (t >= 0.66)
        return [
            PlanePose(yaw=float(a), pitch=float(b), roll=float(rng.normal(0, 1)))
            for a, b in zip(yaw, pitch, strict=True)
        ]
    if motion == "shake":
        steps = rng.normal(0, 0.015, size=(frames, 3)).cumsum(axis=0)
        return [
            PlanePose(
                x=float(s[0]),
                y=float(s[1]),
                roll=float(40 * s[2]),
                yaw=float(rng.normal(0, 2)),
                pitch=float(rng.normal(0, 2)),
            )
            for s in steps
        ]
    distance = 2.4 - 1.1 * t  # approach: from far to near
    return [
        PlanePose(distance=float(d), yaw=float(rng.normal(0, 2)), x=float(rng.normal(0, 0.01)))
        for d in distance
    ]


def photo_attack(photo: np.ndarray, motion: Motion, frames: int, seed: int) -> Iterator[np.ndarray]:
    """Frames of ``photo`` printed and moved by ``motion``."""
    back = background(seed)
    big = _enlarge(photo)
    for pose in motion_poses(motion, frames, seed):
        yield render(big, pose, back)


def replay_attack(
    video_frames: Sequence[np.ndarray], motion: Motion, seed: int
) -> Iterator[np.ndarray]:
    """A video's frames shown on a screen that is moved by ``motion``."""
    back = background(seed)
    for frame, pose in zip(
        video_frames, motion_poses(motion, len(video_frames), seed), strict=True
    ):
        yield render(
            frame,
            PlanePose(pose.yaw, pose.pitch, pose.roll, pose.x, pose.y, pose.distance * 0.75),
            back,
        )


def face_print(photo: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The part of ``photo`` an attacker would print: the face with a margin of about one
    face width around it (clipped to the photo)."""
    x, y, w, h = box
    side = 2.4 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    x1 = min(photo.shape[1], round(cx + side / 2))
    y1 = min(photo.shape[0], round(cy + side / 2))
    return photo[y0:y1, x0:x1].copy()


def _enlarge(photo: np.ndarray, side: int = 500) -> np.ndarray:
    """A print has plenty of pixels: upscale small dev crops before warping them."""
    h, w = photo.shape[:2]
    k = side / max(h, w)
    return cv2.resize(photo, (round(w * k), round(h * k)), interpolation=cv2.INTER_CUBIC)


def read_video(
    path: Path, *, max_frames: int, stride: int = 1, width: int = 640
) -> list[np.ndarray]:
    """Up to ``max_frames`` frames (every ``stride``-th), scaled to ``width``."""
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    i = 0
    try:
        while len(out) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if i % stride == 0:
                k = width / frame.shape[1]
                out.append(cv2.resize(frame, (width, round(frame.shape[0] * k))))
            i += 1
    finally:
        cap.release()
    return out
