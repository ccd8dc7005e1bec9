"""Alignment: a similarity transform that puts the five landmarks on the recogniser's template.

Recognisers are trained on faces aligned this way; feeding them anything else costs accuracy.
The transform is the least-squares similarity (Umeyama), which uses all five points instead of
the three an affine fit would need, so one noisy landmark pulls less.
"""

from __future__ import annotations

import cv2
import numpy as np

# The standard 112x112 five-point template (eyes, nose tip, mouth corners) used by ArcFace
# style recognisers, SFace included. Point order matches YuNet's: image-left eye first.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity mapping ``src`` points onto ``dst``.

    In the plane, Umeyama's solution (SVD of the cross-covariance, with the reflection
    excluded) has a closed form: with both point sets centred, the best ``scale * rotation``
    is ``[[a, -b], [b, a]]`` with ``a = sum(x.u + y.v) / sum(x^2 + y^2)`` and
    ``b = sum(x.v - y.u) / sum(x^2 + y^2)``. It agrees with the SVD to float rounding
    (tests/engine/test_fast_paths.py checks it) and costs a few microseconds instead of ~30 per
    face. Coincident ``src`` points (no spread) give scale 1, no rotation, as before.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    p, q = src - src_mean, dst - dst_mean
    (xu, xv), (yu, yv) = (p.T @ q).tolist()  # sums of x.u, x.v, y.u, y.v
    variance = float(np.vdot(p, p))
    a, b = ((xu + yv) / variance, (xv - yu) / variance) if variance > 0 else (1.0, 0.0)
    (sx, sy), (dx, dy) = src_mean.tolist(), dst_mean.tolist()
    return np.array([[a, -b, dx - (a * sx - b * sy)], [b, a, dy - (b * sx + a * sy)]])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The ``size`` x ``size`` aligned crop of the face with these landmarks."""
    template = TEMPLATE_112 * (size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
