"""Alignment: the least-squares similarity transform and the aligned crop."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facegate.engine import FaceEngine
from facegate.engine.align import TEMPLATE_112, align_face, similarity_transform


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    moved: np.ndarray = points @ matrix[:, :2].T + matrix[:, 2]
    return moved


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    rot = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return np.hstack([rot, [[tx], [ty]]])


def test_template_onto_itself_is_the_identity():
    matrix = similarity_transform(TEMPLATE_112, TEMPLATE_112)
    assert np.allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-9)


@pytest.mark.parametrize(
    ("angle", "scale", "tx", "ty"),
    [(25.0, 1.7, 30.0, -12.0), (-140.0, 0.35, 200.0, 80.0), (0.0, 3.0, 0.0, 0.0)],
)
def test_recovers_a_known_similarity(angle: float, scale: float, tx: float, ty: float):
    truth = similarity(angle, scale, tx, ty)
    src = TEMPLATE_112
    dst = apply(truth, src)
    matrix = similarity_transform(src, dst)
    assert np.allclose(matrix, truth, atol=1e-9)
    # And the inverse direction (image landmarks -> template) is the inverse transform.
    back = similarity_transform(dst, src)
    assert np.allclose(apply(back, dst), src, atol=1e-9)


def test_least_squares_with_noise_stays_close():
    rng = np.random.default_rng(3)
    truth = similarity(12.0, 2.0, 50.0, 40.0)
    dst = apply(truth, TEMPLATE_112) + rng.normal(0, 0.5, TEMPLATE_112.shape)
    matrix = similarity_transform(TEMPLATE_112, dst)
    assert np.abs(matrix[:, :2] - truth[:, :2]).max() < 0.05
    residual = np.linalg.norm(apply(matrix, TEMPLATE_112) - dst, axis=1)
    assert residual.max() < 2.0


def test_never_a_reflection():
    mirrored = TEMPLATE_112 * [-1, 1]
    matrix = similarity_transform(mirrored, TEMPLATE_112)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_aligned_crop_puts_the_landmarks_on_the_template():
    # Five bright dots where a rotated, scaled, shifted face's landmarks would be.
    truth = similarity(-18.0, 2.6, 140.0, 90.0)
    landmarks = apply(truth, TEMPLATE_112)
    canvas = np.zeros((480, 520, 3), np.uint8)
    for x, y in landmarks:
        cv2.circle(canvas, (round(x), round(y)), 4, (255, 255, 255), -1)
    crop = align_face(canvas, landmarks.astype(np.float32))
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    for x, y in TEMPLATE_112:
        assert crop[round(y), round(x)].min() > 200
    assert crop.mean() < 40  # only the dots are bright


@pytest.mark.slow
def test_crop_size_follows_the_recogniser(engine: FaceEngine, astronaut_bgr: np.ndarray):
    (detection,) = engine.detect(astronaut_bgr)
    crop = align_face(astronaut_bgr, detection.landmarks)
    assert crop.shape == (112, 112, 3)
    big = align_face(astronaut_bgr, detection.landmarks, size=224)
    assert big.shape == (224, 224, 3)
    # Same framing at twice the resolution.
    shrunk = cv2.resize(big, (112, 112), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - crop.astype(int)).mean() < 8
