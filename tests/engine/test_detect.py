"""Detection: one face in the astronaut, the right number in each group photo, any size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.types import Detection
from tests.engine.conftest import cosine, read_tsv

# Faces the detector finds at the default settings in each group photo, measured and checked
# by eye against the photos and the notes in groups.tsv. Background people are counted only
# when their face is actually visible.
EXPECTED_FACES = {
    "groups/fr_two_people.jpg": 2,  # a clean two-photo composite
    "groups/fr_obama_and_biden.jpg": 3,  # + the child at lower right; the adult cut off at the
    # right edge shows too little face to count
    "groups/fr_kit_with_rose.jpg": 2,
    "groups/bbt1.jpg": 4,  # fake beards, still found
    "groups/bbt2.jpg": 3,  # + the young man with glasses at far left; the others are blurred or
    # turned away
    "groups/bbt3.jpg": 5,
    "groups/bbt4.jpg": 6,
    "groups/bbt5.jpg": 5,
}


def by_position(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: (d.box.x, d.box.y))


def test_astronaut_has_exactly_one_face(engine: FaceEngine, astronaut_bgr: np.ndarray):
    faces = engine.analyze(astronaut_bgr)
    assert len(faces) == 1
    face = faces[0]
    # Eileen Collins' face is in the upper left of the 512x512 picture, about 90 px wide.
    cx, cy = face.box.center
    assert 150 < cx < 300 and 50 < cy < 200
    assert 60 < face.box.w < 130
    assert face.score > 0.8
    # Landmarks sit inside the box, eyes above the nose, nose above the mouth.
    lm = face.landmarks
    assert ((lm[:, 0] > face.box.x) & (lm[:, 0] < face.box.x + face.box.w)).all()
    assert ((lm[:, 1] > face.box.y) & (lm[:, 1] < face.box.y + face.box.h)).all()
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # image-left point first
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])


def test_groups_tsv_is_covered(faces_dir: Path):
    assert {row["path"] for row in read_tsv(faces_dir / "groups.tsv")} == set(EXPECTED_FACES)


@pytest.mark.parametrize("path", sorted(EXPECTED_FACES))
def test_group_photo_face_count(engine: FaceEngine, faces_dir: Path, path: str):
    row = next(r for r in read_tsv(faces_dir / "groups.tsv") if r["path"] == path)
    known = row["identities"].split(",")
    detections = engine.detect(engine.load(faces_dir / path))
    assert len(detections) >= len(known), row["notes"]
    assert len(detections) == EXPECTED_FACES[path], [d.box.as_list() for d in detections]
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= engine.settings.engine.det_score_threshold
    # No two detections of one face survive non-maximum suppression.
    for i, a in enumerate(detections):
        for b in detections[i + 1 :]:
            assert a.box.iou(b.box) < 0.3


def test_composite_halves_are_the_single_photos(engine: FaceEngine, faces_dir: Path):
    """fr_two_people.jpg is fr_obama3.jpg beside fr_biden.jpg: the faces must match them."""
    group = engine.analyze(engine.load(faces_dir / "groups/fr_two_people.jpg"))
    left, right = sorted(group, key=lambda f: f.box.x)
    obama = engine.main_face(engine.load(faces_dir / "people/Barack_Obama/fr_obama3.jpg"))
    biden = engine.main_face(engine.load(faces_dir / "people/Joseph_Biden/fr_biden.jpg"))
    assert cosine(left.embedding, obama.embedding) > 0.8
    assert cosine(right.embedding, biden.embedding) > 0.8
    assert cosine(left.embedding, biden.embedding) < 0.4
    assert cosine(right.embedding, obama.embedding) < 0.4


def test_large_image_maps_back_to_the_same_faces(engine: FaceEngine, faces_dir: Path):
    image = engine.load(faces_dir / "groups/bbt4.jpg")
    scale = 3000 / image.shape[1]
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    assert big.shape[1] == 3000
    small_found = by_position(engine.detect(image))
    big_found = by_position(engine.detect(big))
    assert len(big_found) == len(small_found) == EXPECTED_FACES["groups/bbt4.jpg"]
    for s, b in zip(small_found, big_found, strict=True):
        # Boxes come back in the big image's pixels: scaled, they land on the same face.
        assert b.box.w > 3 * s.box.w
        assert s.box.iou(_scaled(b, 1 / scale).box) > 0.8
        shift = np.linalg.norm(b.landmarks / scale - s.landmarks, axis=1)
        assert shift.max() < 0.08 * s.box.w


def _scaled(d: Detection, factor: float) -> Detection:
    from facegate.engine.types import Box

    box = Box(d.box.x * factor, d.box.y * factor, d.box.w * factor, d.box.h * factor)
    return Detection(box, d.landmarks * factor, d.score)


@pytest.mark.slow
def test_min_face_size_filters_small_faces(engine: FaceEngine, faces_dir: Path):
    image = engine.load(faces_dir / "groups/bbt3.jpg")
    everyone = engine.detect(image)
    limit = 55
    big_enough = [d for d in everyone if min(d.box.w, d.box.h) >= limit]
    assert 0 < len(big_enough) < len(everyone)  # the photo really has faces on both sides
    strict = FaceEngine(Settings(min_face_size=limit), pool_size=1)
    kept = strict.detect(image)
    assert len(kept) == len(big_enough)
    assert all(min(d.box.w, d.box.h) >= limit for d in kept)


def test_score_threshold(engine: FaceEngine, faces_dir: Path):
    image = engine.load(faces_dir / "groups/bbt5.jpg")
    everyone = engine.detect(image, score_threshold=0.3)
    cut = float(np.median([d.score for d in everyone]))
    above = engine.detect(image, score_threshold=cut)
    assert above and len(above) < len(everyone)
    assert all(d.score >= cut for d in above)


def test_blank_image_has_no_faces(engine: FaceEngine):
    assert engine.detect(np.full((480, 640, 3), 127, np.uint8)) == []
    assert engine.analyze(np.zeros((100, 100, 3), np.uint8)) == []


def test_every_scaled_image_fits_a_canvas_of_the_fixed_set() -> None:
    from facegate.engine.yunet_runtimes import canvas_for, detector_canvases

    canvases = detector_canvases(640)
    assert len(canvases) == 10
    assert all(w % 32 == 0 and h % 32 == 0 and max(w, h) <= 640 for w, h in canvases)
    for width in range(1, 641, 9):
        for height in range(1, 641, 11):
            w, h = canvas_for(width, height, canvases)
            assert (w, h) in canvases and w >= width and h >= height
    assert canvas_for(640, 360, canvases) == (640, 384)  # a video frame: the shape it always had
    assert canvas_for(250, 250, canvases) == (256, 320)  # an LFW photo: a small canvas


@pytest.mark.slow
def test_a_photo_of_a_new_size_compiles_no_detector_model(faces_dir: Path) -> None:
    """A server compiles all canvases before it serves: detecting at sizes never seen before
    then adds no compiled model, which is what makes the first request of a size as fast as
    the second."""
    engine = FaceEngine(Settings(detector_backend="openvino"), pool_size=1)
    compiled = engine.detector.compiled
    assert compiled is not None and len(compiled.shapes) == 1  # only what start-up needs
    engine.detector.warm_up()
    before = len(compiled.shapes)
    assert before == len(compiled.canvases)
    image = engine.load(faces_dir / "groups" / "fr_two_people.jpg")
    for width, height in [(333, 517), (1200, 777), (96, 4000), (2500, 2500), (641, 359)]:
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        engine.detect(resized)
    assert len(compiled.shapes) == before
