"""Large JPEGs decoded at reduced scale (``FaceEngine.analyze_source``) find the same faces
as the full decode, in the same coordinates, with embeddings within a stated cosine.

The big photos are made in memory from dev group photos (upscaled to 12 megapixels, as a
phone would send them); nothing is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.engine import FaceEngine
from facegate.engine.decode import decode_image, decode_reduced
from facegate.engine.types import Face
from tests.images import read_image

# Landmarks found on a libjpeg-reduced image differ from those found on the full decode by
# a fraction of a pixel at the detector's scale; measured worst case over the photos below
# 0.976 (the same face embedded twice from the full image scores 1.0).
MIN_COSINE = 0.97
MIN_IOU = 0.95


def big_jpeg(faces_dir: Path, names: list[str], tile: tuple[int, int]) -> bytes:
    tiles = [
        cv2.resize(read_image(faces_dir / "groups" / n), tile, interpolation=cv2.INTER_CUBIC)
        for n in names
    ]
    rows = [np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]
    ok, data = cv2.imencode(".jpg", np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return data.tobytes()


def assert_same_faces(full: list[Face], reduced: list[Face]) -> None:
    assert len(full) == len(reduced) > 0
    for face in full:
        twin = max(reduced, key=lambda other: face.box.iou(other.box))
        assert face.box.iou(twin.box) >= MIN_IOU
        assert float(face.embedding @ twin.embedding) >= MIN_COSINE
        assert np.abs(face.landmarks - twin.landmarks).max() < 0.02 * face.box.w
        assert face.quality.ok == twin.quality.ok


@pytest.mark.parametrize(
    ("names", "tile", "expected_factor"),
    [
        # two large faces on 4000x3000: detected and aligned from the 1/4-scale decode
        (["fr_kit_with_rose.jpg"], (4000, 3000), 4.0),
        # eighteen small faces on 4000x3000: detected at 1/4, aligned from the full decode
        (["bbt1.jpg", "bbt2.jpg", "bbt3.jpg", "bbt4.jpg"], (2000, 1500), 4.0),
    ],
)
def test_reduced_decode_finds_the_same_faces(
    engine: FaceEngine,
    faces_dir: Path,
    names: list[str],
    tile: tuple[int, int],
    expected_factor: float,
) -> None:
    data = big_jpeg(faces_dir, names, tile)
    image, factor = decode_reduced(data, engine.settings.engine.det_max_side)
    assert factor == expected_factor and max(image.shape[:2]) == 1000  # it was reduced
    assert_same_faces(engine.analyze(engine.load(data)), engine.analyze_source(data))


def test_small_and_non_jpeg_images_are_not_reduced(engine: FaceEngine, faces_dir: Path) -> None:
    for path in (faces_dir / "groups/bbt4.jpg", faces_dir / "people/Jim_Parsons/sheldon1.png"):
        image, factor = decode_reduced(path, 640)
        assert factor == 1.0
        assert np.array_equal(image, decode_image(path))


def test_reduced_coordinates_map_to_the_limited_full_decode(faces_dir: Path) -> None:
    """With max_side (max_decode_side) the full decode is itself reduced (libjpeg at 1/2:
    2000 px): the factor maps the coarse image onto exactly that result."""
    data = big_jpeg(faces_dir, ["fr_kit_with_rose.jpg"], (4000, 3000))
    full = decode_image(data, max_side=3000)
    coarse, factor = decode_reduced(data, 640, max_side=3000)
    assert max(full.shape[:2]) == 2000 and max(coarse.shape[:2]) == 1000
    assert factor == pytest.approx(2.0)
