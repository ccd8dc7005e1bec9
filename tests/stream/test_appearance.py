"""The cheap pixel checks behind track splitting, on dev photos and videos (no models)."""

from __future__ import annotations

import cv2
import numpy as np

from facegate.bench.cut_clips import FACE_SIDE, HEIGHT, WIDTH, Segment, cut_clip, photo
from facegate.engine.types import Box
from facegate.stream.appearance import SceneCutDetector, StillScene, face_descriptor
from tests.stream.conftest import video_frames


def test_clear_cuts_are_found_and_nothing_else_is_called_a_cut(faces_dir):
    people = faces_dir / "people"
    clip = cut_clip(
        [
            Segment(photo(people, "Tony_Blair"), 10, "a"),
            Segment(photo(people, "Hugo_Chavez"), 10, "b"),
            Segment(photo(people, "Tony_Blair", 7), 10, "c"),
            Segment(photo(people, "Jacques_Chirac"), 10, "d"),
        ]
    )
    detector = SceneCutDetector()
    cuts = [i for i, (image, _) in enumerate(clip) if detector.is_cut(image)]
    # Blair -> Chirac (30) is found too since frames are compared at the same brightness
    # (it was missed before: the per-track check caught it; test_cuts.py runs that alone).
    assert cuts == [10, 20, 30]


def test_a_brightness_step_is_not_a_cut(faces_dir):
    """An exposure or gain step of the camera brightens everything at once: not a cut, or a
    flickering camera would end its tracks before any name confirms."""
    from facegate.eval.video import synthetic_frames

    image = cv2.imread(str(faces_dir / "people" / "Joseph_Biden" / "fr_biden.jpg"))
    assert image is not None
    detector = SceneCutDetector()
    frames = list(synthetic_frames(image, 12))  # drifting, growing, +-5 % flicker
    frames += [np.clip(frames[-1].astype(np.float32) * g, 0, 255).astype(np.uint8)
               for g in (1.15, 0.85, 1.25)]  # fmt: skip
    assert not any(detector.is_cut(frame) for frame in frames)


def test_a_real_video_without_cuts_has_none(faces_dir):
    for name in ("obama.mp4", "royal_opera_house_walkers.mp4"):
        detector = SceneCutDetector()
        frames = video_frames(faces_dir / "videos" / name, 90)
        assert not any(detector.is_cut(image) for image in frames), name


def test_reset_forgets_the_previous_frame():
    detector = SceneCutDetector()
    assert not detector.is_cut(np.zeros((48, 64, 3), np.uint8))
    detector.reset()
    assert not detector.is_cut(np.full((48, 64, 3), 255, np.uint8))  # nothing to compare
    assert detector.is_cut(np.zeros((48, 64, 3), np.uint8))


def test_a_face_descriptor_tells_a_jittered_face_from_another_one(faces_dir):
    people = faces_dir / "people"
    clip = cut_clip(
        [
            Segment(photo(people, "Tony_Blair"), 2, "a"),
            Segment(photo(people, "Hugo_Chavez"), 1, "b"),
        ]
    )
    box = Box((WIDTH - FACE_SIDE) / 2 + 60, (HEIGHT - FACE_SIDE) / 2 + 60, 180, 180)
    first, again, other = (face_descriptor(image, box) for image, _ in clip)
    assert first is not None and again is not None and other is not None
    assert float(first @ again) > 0.85 > float(first @ other)


def test_an_empty_or_flat_box_has_no_descriptor():
    image = np.full((48, 64, 3), 90, np.uint8)
    assert face_descriptor(image, Box(10, 10, 20, 20)) is None  # flat
    assert face_descriptor(image, Box(100, 100, 20, 20)) is None  # outside


# -- StillScene: did anything move outside the tracked faces since the detector looked? ----

FACE = Box(280, 100, 80, 80)  # in a 640x480 frame


def thumbnail_of(image: np.ndarray) -> np.ndarray:
    detector = SceneCutDetector()
    detector.is_cut(image)
    assert detector.thumbnail is not None
    return detector.thumbnail


def scene() -> np.ndarray:
    rng = np.random.default_rng(7)
    return cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (31, 31), 0)


def test_an_unchanged_picture_is_still_and_sensor_noise_does_not_move_it():
    base = scene()
    still = StillScene()
    still.looked(thumbnail_of(base), [FACE])
    noisy = np.clip(base + np.random.default_rng(1).normal(0, 3, base.shape), 0, 255)
    assert still.still(thumbnail_of(noisy.astype(np.uint8)), [FACE], 640, 480)


def test_a_newcomer_outside_the_faces_is_movement():
    base = scene()
    still = StillScene()
    still.looked(thumbnail_of(base), [FACE])
    walker = base.copy()
    walker[200:420, 20:100] = 255  # somebody at the left edge, far from the tracked face
    assert not still.still(thumbnail_of(walker), [FACE], 640, 480)


def test_movement_of_the_tracked_face_and_its_body_is_left_out():
    base = scene()
    still = StillScene()
    still.looked(thumbnail_of(base), [FACE])
    moved = base.copy()
    moved[100:180, 300:380] = 0  # the face turned (the tracker's descriptor judges that)
    moved[200:410, 260:380] = 255  # the body below it moved
    assert still.still(thumbnail_of(moved), [Box(300, 100, 80, 80)], 640, 480)
    # the same change without a face there is movement
    empty = StillScene()
    empty.looked(thumbnail_of(base), [])
    assert not empty.still(thumbnail_of(moved), [], 640, 480)


def test_nothing_to_compare_is_never_still():
    base = thumbnail_of(scene())
    still = StillScene()
    assert not still.still(base, [], 640, 480)  # never looked
    still.looked(base, [])
    assert not still.still(None, [], 640, 480)
    still.looked(base, [Box(-1000, -1000, 3000, 3000)])  # a face covering everything
    assert not still.still(base, [], 640, 480)
    still.reset()
    assert not still.still(base, [], 640, 480)
