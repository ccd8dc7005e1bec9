"""The engine's fast paths give what the plain ones gave (issue 15, session 5).

Each test keeps the previous, straightforward implementation here as the reference and checks
the product's faster one against it on real frames and photos: YuNet fed through the
request's own input tensor with outputs read in place (against pad + transpose + a copied
blob), the decoder's cheap cut (cls * obj >= floor**2 before the exact score), the
closed-form similarity (against the SVD), the float pose and int16 Laplacian sharpness
(against numpy), one ``blobFromImage`` per crop (against ``blobFromImages``), and the
recogniser's shared inputs and outputs (against copies). Equal means bit-equal where only
copying changed, float rounding where arithmetic changed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.bench.engine_bench import load_frames
from facegate.engine import FaceEngine
from facegate.engine.align import TEMPLATE_112, align_face, similarity_transform
from facegate.engine.embed import OpenVinoRecognizer, batch_plan, crops_to_blob, l2_normalise
from facegate.engine.quality import NOSE_DEPTH, estimate_pose, sharpness
from facegate.engine.yunet_runtimes import (
    STRIDES,
    TOP_K,
    OpenVinoYuNet,
    _blob_shape,
    canvas_for,
)

EMPTY = np.zeros((0, 15), dtype=np.float32)


# --- the reference implementations (the code before session 5) ----------------------------


def reference_decode(
    result: Any, outputs: dict[str, Any], stride: int, cols: int, floor: float
) -> np.ndarray:
    cls = np.clip(result[outputs[f"cls_{stride}"]].reshape(-1), 0, 1)
    obj = np.clip(result[outputs[f"obj_{stride}"]].reshape(-1), 0, 1)
    scores = np.sqrt(cls * obj)
    cells = np.flatnonzero(scores >= floor)
    if cells.size == 0:
        return EMPTY
    bbox = result[outputs[f"bbox_{stride}"]].reshape(-1, 4)[cells]
    kps = result[outputs[f"kps_{stride}"]].reshape(-1, 10)[cells]
    col = (cells % cols).astype(np.float32)[:, None]
    row = (cells // cols).astype(np.float32)[:, None]
    centre = (np.hstack([col, row]) + bbox[:, :2]) * stride
    size = np.exp(bbox[:, 2:4]) * stride
    grid = np.tile(np.hstack([col, row]), 5)
    landmarks = (kps + grid) * stride
    out = np.empty((cells.size, 15), dtype=np.float32)
    out[:, :2] = centre - size / 2
    out[:, 2:4] = size
    out[:, 4:14] = landmarks
    out[:, 14] = scores[cells]
    return out


def reference_yunet(runner: OpenVinoYuNet, image: np.ndarray) -> np.ndarray:
    """Pad, transpose to a float32 blob, infer with OpenVINO copying it in and out."""
    model = runner._model
    height, width = image.shape[:2]
    pad_w, pad_h = canvas_for(width, height, model.canvases)
    padded = cv2.copyMakeBorder(
        image, 0, pad_h - height, 0, pad_w - width, cv2.BORDER_CONSTANT, value=0
    )
    blob = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
    request, outputs = runner._request_for(blob.shape)
    result = request.infer({0: blob})
    rows = [reference_decode(result, outputs, s, pad_w // s, model.score_floor) for s in STRIDES]
    faces = np.concatenate(rows)
    if len(faces) <= 1:
        return faces
    keep = cv2.dnn.NMSBoxes(
        faces[:, :4].astype(np.int32).tolist(),
        faces[:, 14].tolist(),
        model.score_floor,
        model.nms_threshold,
        top_k=TOP_K,
    )
    return faces[np.asarray(keep, dtype=np.int64).reshape(-1)]


def svd_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Umeyama through the SVD of the cross-covariance, reflection excluded."""
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


def numpy_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    frontal = float(
        (TEMPLATE_112[2, 1] - TEMPLATE_112[:2, 1].mean())
        / (TEMPLATE_112[3:, 1].mean() - TEMPLATE_112[:2, 1].mean())
    )
    pts = np.asarray(landmarks, dtype=np.float64)
    eye_l, eye_r, nose = pts[0], pts[1], pts[2]
    mouth = (pts[3] + pts[4]) / 2
    eye_vec = eye_r - eye_l
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    eye_l, eye_r, nose, mouth = (rot @ p for p in (eye_l, eye_r, nose, mouth))
    eye_dist = max(eye_r[0] - eye_l[0], 1e-6)
    offset = (nose[0] - (eye_l[0] + eye_r[0]) / 2) / (eye_dist / 2)
    yaw = math.degrees(math.atan(offset / NOSE_DEPTH))
    eye_y = (eye_l[1] + eye_r[1]) / 2
    span = mouth[1] - eye_y
    ratio = (nose[1] - eye_y) / span if abs(span) > 1e-6 else frontal
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, (ratio - frontal) * 2.0))))
    return yaw, pitch, roll


def numpy_sharpness(aligned: np.ndarray) -> float:
    gray = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY) if aligned.ndim == 3 else aligned
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames(faces_dir: Path) -> list[np.ndarray]:
    """Every 6th of the Hamilton clip's first 120 frames at 640x360 (2-4 faces each)."""
    video = faces_dir / "videos" / "short_hamilton_clip.mp4"
    return load_frames(video, 640, max_frames=120)[::6]


@pytest.fixture(scope="module")
def photos(engine: FaceEngine, faces_dir: Path) -> list[np.ndarray]:
    names = ("groups/bbt4.jpg", "groups/fr_two_people.jpg", "people/Kit_Harington/fr_john2.jpeg")
    return [engine.load(faces_dir / name) for name in names]


@pytest.fixture(scope="module")
def runner(engine: FaceEngine) -> OpenVinoYuNet:
    """One YuNet runner of its own (runners are per thread), on the engine's compiled models."""
    compiled = engine.detector.compiled
    assert compiled is not None, "the default detector backend is openvino"
    return compiled.runner()


# --- detection -----------------------------------------------------------------------------


def test_yunet_in_place_equals_the_copying_path(
    runner: OpenVinoYuNet, frames: list[np.ndarray], photos: list[np.ndarray]
) -> None:
    images = list(frames)
    for photo in photos:  # scaled into the canvases as ``detect`` scales: other aspects
        scale = min(1.0, 600 / max(photo.shape[:2]))
        size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        scaled = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        images += [scaled, cv2.rotate(scaled, cv2.ROTATE_90_CLOCKWISE)]
    images.append(cv2.resize(images[-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert len({canvas_for(i.shape[1], i.shape[0], runner._model.canvases) for i in images}) >= 3
    found = 0
    for image in images:
        fast = runner(image)
        slow = reference_yunet(runner, image)
        assert np.array_equal(fast, slow), (image.shape, fast, slow)
        found += len(fast)
    assert found >= 2 * len(frames)  # the frames really have faces


def test_a_smaller_image_on_the_same_canvas_sees_no_stale_pixels(
    runner: OpenVinoYuNet, frames: list[np.ndarray]
) -> None:
    """The input tensor is reused: its padding must be zeroed again for a smaller image."""
    big = frames[0]
    small = np.ascontiguousarray(big[:300, :560])
    canvases = runner._model.canvases
    assert canvas_for(560, 300, canvases) == canvas_for(640, 360, canvases)  # same tensor
    runner(np.full_like(big, 255))  # leave white everywhere the smaller image does not cover
    assert np.array_equal(runner(small), reference_yunet(runner, small))
    request, _ = runner._request_for(_blob_shape(canvas_for(560, 300, canvases)))
    canvas = request.get_input_tensor(0).data[0]
    assert not canvas[:, 300:].any() and not canvas[:, :300, 560:].any()


def test_results_survive_the_next_inference(
    runner: OpenVinoYuNet, frames: list[np.ndarray]
) -> None:
    """Outputs are read in place from the request: what a call returns must be a copy."""
    first = runner(frames[0])
    kept = first.copy()
    assert len(first) > 0
    for frame in frames[1:4]:
        runner(frame)
    assert np.array_equal(first, kept)


def test_score_cut_keeps_every_cell_the_full_decoder_keeps(runner: OpenVinoYuNet) -> None:
    """Synthetic heads with scores on both sides of the floor, out-of-range values and the
    floor exactly: the decoder with the cls * obj >= floor**2 cut equals the full one."""
    rng = np.random.default_rng(5)
    floor = runner._model.score_floor
    cols, rows = 20, 12
    for stride in STRIDES:
        n = cols * rows
        cls = rng.uniform(-0.2, 1.2, n).astype(np.float32)
        obj = rng.uniform(-0.2, 1.2, n).astype(np.float32)
        cls[:5] = np.float32(floor * floor)  # exactly at the cut
        obj[:5] = 1.0
        cls[5:10] = np.float32(floor)
        obj[5:10] = np.float32(floor)  # score exactly at the floor
        cls[10:15] = obj[10:15] = -0.5  # the raw product passes the cut, the clipped one not
        cls[15:20], obj[15:20] = 1.5, 0.07  # clipping lowers the product below the floor
        result = {
            f"cls_{stride}": cls.reshape(1, n, 1),
            f"obj_{stride}": obj.reshape(1, n, 1),
            f"bbox_{stride}": rng.normal(0, 1, (1, n, 4)).astype(np.float32),
            f"kps_{stride}": rng.normal(0, 1, (1, n, 10)).astype(np.float32),
        }
        names = {name: name for name in result}
        fast = runner._decode(result, names, stride, cols)
        slow = reference_decode(result, names, stride, cols, floor)
        assert len(slow) > 10
        assert np.array_equal(fast, slow)


def test_detections_are_unchanged_through_the_engine(
    engine: FaceEngine, runner: OpenVinoYuNet, frames: list[np.ndarray]
) -> None:
    """``detect`` builds boxes (float64) and landmarks (float32) from the runner's rows as the
    row-by-row loop did."""
    threshold = engine.settings.engine.det_score_threshold
    for frame in frames[:5]:
        raw = reference_yunet(runner, frame)
        expected = sorted(
            (
                (tuple(float(v) for v in row[:4]), row[4:14].reshape(5, 2), float(row[14]))
                for row in raw
                if float(row[14]) >= threshold
                and min(row[2], row[3]) >= engine.detector.min_face_size
            ),
            key=lambda e: e[2],
            reverse=True,
        )
        found = engine.detect(frame)
        assert len(found) == len(expected) > 0
        for d, (box, landmarks, score) in zip(found, expected, strict=True):
            assert (d.box.x, d.box.y, d.box.w, d.box.h) == box and d.score == score
            assert d.landmarks.dtype == np.float32 and np.array_equal(d.landmarks, landmarks)


# --- alignment and quality -----------------------------------------------------------------


def test_closed_form_similarity_equals_the_svd() -> None:
    rng = np.random.default_rng(11)
    for _ in range(2000):
        angle = rng.uniform(-math.pi, math.pi)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        points = TEMPLATE_112 * rng.uniform(0.1, 6.0) @ rot.T + rng.uniform(-200, 3000, 2)
        points = points + rng.normal(0, rng.uniform(0, 15), points.shape)
        if rng.random() < 0.1:
            points = points * [-1, 1]  # a mirrored set: the fit must still be a rotation
        src = points.astype(np.float32)
        for a, b in ((src, TEMPLATE_112), (TEMPLATE_112, src)):
            fast, slow = similarity_transform(a, b), svd_similarity(a, b)
            assert np.allclose(fast, slow, rtol=1e-12, atol=1e-9 * np.abs(slow).max())
    # Degenerate sets: all points in one place, and a target squeezed to one point.
    same = np.full((5, 2), 7.0)
    assert np.allclose(similarity_transform(same, TEMPLATE_112), svd_similarity(same, TEMPLATE_112))
    assert np.allclose(similarity_transform(TEMPLATE_112, same), svd_similarity(TEMPLATE_112, same))


def test_aligned_crops_equal_the_svd_ones(engine: FaceEngine, frames: list[np.ndarray]) -> None:
    crops = 0
    for frame in frames:
        for d in engine.detect(frame):
            fast = align_face(frame, d.landmarks)
            matrix = svd_similarity(d.landmarks, TEMPLATE_112)
            slow = cv2.warpAffine(frame, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderValue=0)
            # A sub-1e-12 change in the matrix may move a sample across OpenCV's 1/32-pixel
            # grid: at most one grey level in a handful of pixels, usually none.
            diff = np.abs(fast.astype(np.int16) - slow.astype(np.int16))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01
            crops += 1
    assert crops >= len(frames)


def test_float_pose_equals_the_numpy_one(engine: FaceEngine, frames: list[np.ndarray]) -> None:
    rng = np.random.default_rng(2)
    sets = [d.landmarks for frame in frames for d in engine.detect(frame)]
    sets += [
        (TEMPLATE_112 + rng.normal(0, 8, TEMPLATE_112.shape)).astype(np.float32) for _ in range(500)
    ]
    sets.append(np.zeros((5, 2), np.float32))  # no eye distance, no span: the guards
    for landmarks in sets:
        assert np.allclose(estimate_pose(landmarks), numpy_pose(landmarks), rtol=0, atol=1e-9)


def test_int16_sharpness_equals_the_float64_variance(
    engine: FaceEngine, frames: list[np.ndarray]
) -> None:
    crops = [align_face(frame, d.landmarks) for frame in frames for d in engine.detect(frame)]
    rng = np.random.default_rng(4)
    crops.append(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8))  # the Laplacian's extremes
    crops.append(np.zeros((112, 112, 3), np.uint8))
    crops.append(cv2.cvtColor(crops[0], cv2.COLOR_BGR2GRAY))
    for crop in crops:
        assert math.isclose(sharpness(crop), numpy_sharpness(crop), rel_tol=1e-12, abs_tol=1e-9)
    # Not 8-bit: the float64 Laplacian, as before.
    floats = cv2.cvtColor(crops[0], cv2.COLOR_BGR2GRAY).astype(np.float64) / 255
    assert math.isclose(sharpness(floats), numpy_sharpness(floats), rel_tol=1e-12)


# --- embedding -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_blob_per_crop_equals_blob_from_images(count: int) -> None:
    rng = np.random.default_rng(count)
    for shape in ((112, 112, 3), (96, 130, 3)):  # the second needs the resize
        crops = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)]
        for swap_rb, mean, std in ((True, 0.0, 1.0), (False, 127.5, 128.0)):
            expected = cv2.dnn.blobFromImages(
                crops, 1.0 / std, (112, 112), (mean, mean, mean), swapRB=swap_rb, crop=False
            )
            blob = crops_to_blob(crops, 112, swap_rb=swap_rb, mean=mean, std=std)
            assert blob.dtype == np.float32 and np.array_equal(blob, expected)


def copied_embed(recognizer: OpenVinoRecognizer, crops: list[np.ndarray]) -> np.ndarray:
    """The recogniser with OpenVINO copying the input blob and the outputs."""
    blob = crops_to_blob(crops, recognizer.input_size)
    parts = []
    with recognizer._pool.use() as requests:
        start = 0
        for size in batch_plan(len(blob), recognizer.batch_sizes):
            result = requests[size].infer({0: blob[start : start + size]})
            parts.append(np.array(result[recognizer._outputs[size]]).reshape(size, -1))
            start += size
    return l2_normalise(np.concatenate(parts))


def test_shared_inputs_and_outputs_give_the_copied_embeddings(
    engine: FaceEngine, frames: list[np.ndarray], photos: list[np.ndarray]
) -> None:
    recognizer = engine.recognizer
    assert isinstance(recognizer, OpenVinoRecognizer)
    crops = [align_face(p, d.landmarks) for p in photos for d in engine.detect(p)]
    crops += [align_face(f, d.landmarks) for f in frames[:3] for d in engine.detect(f)]
    assert len(crops) >= 13  # batches of 8, 4 and 1 at least
    for group in (crops, crops[:1], crops[:3], crops[:7]):
        shared = recognizer.embed(group)
        copied = copied_embed(recognizer, group)
        assert shared.shape == copied.shape
        assert float((shared * copied).sum(axis=1).min()) >= 0.9999
        assert np.allclose(shared, copied, atol=1e-6)


def test_embeddings_survive_the_next_call(engine: FaceEngine, photos: list[np.ndarray]) -> None:
    """Outputs are views into the request until its next infer: embed must return copies."""
    crops = [align_face(p, d.landmarks) for p in photos for d in engine.detect(p)]
    first = engine.recognizer.embed(crops[:2])
    kept = first.copy()
    engine.recognizer.embed(crops[2:4])
    engine.recognizer.embed(crops[4:6][::-1])
    assert np.array_equal(first, kept)
