"""Synthetic landmark sequences for the liveness unit tests: a 3-D head (the nose tip in front
of the eye-mouth plane) and a flat picture of one, seen through a pinhole camera."""

from __future__ import annotations

import math

import numpy as np

# Five landmarks in half inter-ocular units: eyes, nose tip (in front: z > 0), mouth corners.
HEAD = np.array(
    [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.9, 0.87], [-0.8, 1.9, 0.0], [0.8, 1.9, 0.0]]
)
PHOTO = HEAD * np.array([1.0, 1.0, 0.0])  # the same face, printed: everything on one plane


def rotation(yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """Yaw > 0 turns the nose toward the image's right; pitch > 0 lifts the nose (chin up)."""
    y, p = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return np.asarray(ry @ rx)


def view(
    points: np.ndarray,
    yaw: float = 0.0,
    pitch: float = 0.0,
    *,
    distance: float = 12.0,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> np.ndarray:
    """Pixel landmarks of ``points`` turned by yaw/pitch (degrees), ~100 px inter-ocular."""
    world = points @ rotation(yaw, pitch).T
    z = distance - world[:, 2]
    f = 600.0 * scale
    return np.stack([f * world[:, 0] / z + 320 + shift[0], f * world[:, 1] / z + 200 + shift[1]], 1)


def turn_sequence(
    points: np.ndarray,
    moves: list[tuple[str, float]],
    fps: float = 15.0,
    seconds_per_move: float = 1.2,
) -> list[tuple[float, np.ndarray]]:
    """(t, landmarks) for a head (or photo) turning ``moves`` = [(direction, degrees)] in
    turn, each out and back, starting and ending frontal. left: yaw > 0 (the person's left)."""
    out: list[tuple[float, np.ndarray]] = []
    t = 0.0
    for _ in range(3):  # a still start
        out.append((t, view(points)))
        t += 1 / fps
    for direction, degrees in moves:
        n = round(seconds_per_move * fps)
        for i in range(n + 1):
            a = degrees * math.sin(math.pi * i / n)
            yaw = a if direction == "left" else -a if direction == "right" else 0.0
            pitch = a if direction == "up" else 0.0
            out.append((t, view(points, yaw, pitch)))
            t += 1 / fps
    return out
