"""Head pose and plane parallax: on a synthetic 3-D head, and on real dev photos through the
real detector (a photo, its mirror image, and copies warped by plane homographies)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facegate.engine import FaceEngine
from facegate.engine.quality import estimate_pose
from facegate.liveness.geometry import head_pose, inter_ocular, is_deep, plane_fit
from tests.images import read_image
from tests.liveness.heads import HEAD, PHOTO, view


def test_pose_is_the_quality_gates_estimate():
    marks = view(HEAD, 20, 10)
    assert tuple(head_pose(marks).__getattribute__(k) for k in ("yaw", "pitch", "roll")) == (
        estimate_pose(marks)
    )


@pytest.mark.parametrize("yaw", [10, 20, 30])
def test_a_turning_head_shows_parallax_a_turned_photo_does_not(yaw):
    head = plane_fit(view(HEAD), view(HEAD, yaw))
    photo = plane_fit(view(PHOTO), view(PHOTO, yaw, distance=4.0))
    assert head is not None and photo is not None
    assert head.parallax > 0.08 and is_deep(head, 0.08, 2.0)
    assert photo.parallax < 1e-6 and photo.deformation > 0.01
    assert not is_deep(photo, 0.08, 2.0)
    assert head_pose(view(HEAD, yaw)).yaw > yaw * 0.8  # left (the person's) is yaw > 0
    assert head_pose(view(HEAD, 0, 20)).pitch < -15  # up is pitch < 0


def test_shift_scale_and_roll_of_the_image_change_nothing():
    ref = view(HEAD, 15)
    c, s = np.cos(0.3), np.sin(0.3)
    moved = (ref @ np.array([[c, -s], [s, c]]).T) * 1.7 + np.array([40.0, -25.0])
    fit = plane_fit(ref, moved)
    assert fit is not None and fit.parallax < 1e-5 and fit.deformation < 1e-9
    assert inter_ocular(moved) == pytest.approx(1.7 * inter_ocular(ref))


def test_degenerate_landmarks_give_no_fit():
    assert plane_fit(np.zeros((5, 2)), view(HEAD)) is None


def _landmarks(engine: FaceEngine, image: np.ndarray) -> np.ndarray:
    found = engine.detect(image)
    assert found, "the detector should find the face"
    return max(found, key=lambda d: d.box.area).landmarks


def test_pose_of_a_real_photo_and_its_mirror(engine, faces_dir):
    """bbt2.jpg holds two faces turned about 45 degrees (the quality gate's reference): the
    mirror image turns each the other way by the same amount."""
    image = read_image(faces_dir / "groups" / "bbt2.jpg")
    mirrored = cv2.flip(image, 1)
    faces = sorted(engine.detect(image), key=lambda d: d.box.area, reverse=True)[:2]
    twins = sorted(engine.detect(mirrored), key=lambda d: d.box.area, reverse=True)[:2]
    w = image.shape[1]
    for face in faces:
        twin = min(twins, key=lambda d: abs((w - d.box.x - d.box.w) - face.box.x))
        yaw, pitch, _ = estimate_pose(face.landmarks)
        # the detector's landmark order is image-left first: mirror them back into that order
        yaw_m, pitch_m, _ = estimate_pose(twin.landmarks)
        assert abs(yaw) > 20
        assert yaw_m == pytest.approx(-yaw, abs=8)
        assert pitch_m == pytest.approx(pitch, abs=8)


def test_a_real_photo_warped_by_plane_homographies_shows_little_parallax(engine, faces_dir):
    """A photo seen from another angle is a homography of itself: the nose lands where the
    eyes' and mouth's homography puts it, up to the detector's jitter, far below a head's."""
    from facegate.bench.liveness_synth import PlanePose, background, face_print, render

    photo = read_image(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg")
    box = max(engine.detect(photo), key=lambda d: d.box.area).box
    printed = face_print(photo, (box.x, box.y, box.w, box.h))
    printed = cv2.resize(printed, (500, round(500 * printed.shape[0] / printed.shape[1])))
    back = background(5)
    ref = _landmarks(engine, render(printed, PlanePose(), back))
    for pose in (PlanePose(yaw=25), PlanePose(yaw=-25), PlanePose(pitch=20), PlanePose(x=0.1)):
        fit = plane_fit(ref, _landmarks(engine, render(printed, pose, back)))
        assert fit is not None and fit.parallax < 0.1
        assert not is_deep(fit, 0.1, 2.0)
        # the pose estimate hardly moves either: a photo does not turn its head
        assert abs(head_pose(_landmarks(engine, render(printed, pose, back))).yaw) < 15
