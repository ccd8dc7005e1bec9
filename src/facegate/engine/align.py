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
    """2x3 matrix of the least-squares similarity mapping ``src`` points onto ``dst``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float(np.trace(np.diag(s) @ d) / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The ``size`` x ``size`` aligned crop of the face with these landmarks."""
    template = TEMPLATE_112 * (size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
