"""Embeddings: unit vectors that score the same person above different people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.align import align_face
from facegate.engine.embed import batch_plan
from facegate.gallery.operating_point import OperatingPoint
from tests.engine.conftest import SAMPLE_PHOTOS, cosine, read_tsv


def auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos = np.array([s for s, y in zip(scores, labels, strict=True) if y])
    neg = np.array([s for s, y in zip(scores, labels, strict=True) if not y])
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def test_auc_helper_on_known_answers():
    assert auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.9, 0.3, 0.5, 0.1], [True, True, False, False]) == 0.75


@pytest.fixture(scope="module")
def group_crops(engine: FaceEngine, faces_dir: Path) -> list[np.ndarray]:
    image = engine.load(faces_dir / "groups/bbt4.jpg")
    return [align_face(image, d.landmarks) for d in engine.detect(image)]


def test_embeddings_are_unit_vectors(engine: FaceEngine, faces_dir: Path):
    faces = engine.analyze(engine.load(faces_dir / "groups/bbt4.jpg"))
    assert len(faces) == 6
    matrix = np.stack([f.embedding for f in faces])
    assert matrix.dtype == np.float32 and matrix.shape == (6, 128)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    # Six different people: no two of them look alike to the model.
    sims = matrix @ matrix.T
    assert (sims[~np.eye(6, dtype=bool)] < 0.5).all()


def test_batch_equals_one_at_a_time(engine: FaceEngine, group_crops: list[np.ndarray]):
    batch = engine.recognizer.embed(group_crops)
    single = np.concatenate([engine.recognizer.embed([c]) for c in group_crops])
    assert batch.shape == (len(group_crops), 128)
    assert np.allclose(batch, single, atol=1e-5)
    # Order in the batch does not matter either.
    reverse = engine.recognizer.embed(group_crops[::-1])
    assert np.allclose(reverse[::-1], batch, atol=1e-5)
    assert engine.recognizer.embed([]).shape[0] == 0


@pytest.mark.slow
def test_flip_average_is_mirror_symmetric(group_crops: list[np.ndarray]):
    flip = FaceEngine(Settings(flip_average=True), pool_size=1)
    plain = FaceEngine(Settings(flip_average=False), pool_size=1)
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in group_crops]
    averaged, averaged_mirror = flip.embed_crops(group_crops), flip.embed_crops(mirrored)
    assert np.allclose(averaged, averaged_mirror, atol=1e-5)
    assert np.allclose(np.linalg.norm(averaged, axis=1), 1.0, atol=1e-5)
    # Without it the mirror image does give another vector (so the check above means something).
    one, other = plain.embed_crops(group_crops), plain.embed_crops(mirrored)
    assert min(cosine(a, b) for a, b in zip(one, other, strict=True)) < 0.99


@pytest.mark.slow
def test_same_person_scores_above_different_people(engine: FaceEngine, faces_dir: Path):
    """pairs_extra.tsv: 303 same and 303 different pairs (ORL, BBT crops, demo photos)."""
    rows = read_tsv(faces_dir / "pairs_extra.tsv")
    paths = sorted({r[k] for r in rows for k in ("left_path", "right_path")})
    embedding = {p: engine.main_face(engine.load(faces_dir / p)).embedding for p in paths}
    scores = [cosine(embedding[r["left_path"]], embedding[r["right_path"]]) for r in rows]
    labels = [r["same"] == "1" for r in rows]
    same = np.mean([s for s, y in zip(scores, labels, strict=True) if y])
    different = np.mean([s for s, y in zip(scores, labels, strict=True) if not y])
    assert sum(labels) == 303 and len(labels) == 606
    assert same - different > 0.4, (same, different)
    assert auc(scores, labels) > 0.95


def test_same_person_small_subset(engine: FaceEngine, faces_dir: Path):
    """A fast version of the above on the demo identities (runs in every quick loop too)."""
    obama = [faces_dir / f"people/Barack_Obama/fr_obama{s}.jpg" for s in ("", "1", "2")]
    others = [
        faces_dir / "people/Joseph_Biden/fr_biden2.jpg",
        faces_dir / "people/Kit_Harington/fr_john2.jpeg",
        faces_dir / "people/Rose_Leslie/fr_img2.jpg",
    ]
    emb = [engine.main_face(engine.load(p)).embedding for p in obama + others]
    same = [cosine(emb[i], emb[j]) for i in range(3) for j in range(i + 1, 3)]
    different = [cosine(emb[i], emb[j]) for i in range(3) for j in range(3, 6)]
    assert min(same) > max(different) + 0.2
    verify = OperatingPoint(engine.settings, engine.model_id, engine.model_sha256)
    assert min(same) > verify.verify_threshold() > max(different)


@pytest.mark.parametrize(
    ("backend", "recognizer_class"),
    [("onnxruntime", "OnnxRecognizer"), ("opencv", "SFaceRecognizer")],
)
def test_every_backend_gives_the_same_embeddings(
    engine: FaceEngine, faces_dir: Path, backend: str, recognizer_class: str
):
    """The SFace file through the generic onnxruntime path (RGB, mean 0, std 1) and through
    cv2.dnn agrees with the default OpenVINO path: one embedding space, whichever runtime."""
    assert type(engine.recognizer).__name__ == "OpenVinoRecognizer"
    generic = FaceEngine(
        Settings(
            recognizer_backend=backend,
            recognizer_color_order="rgb",
            recognizer_mean=0.0,
            recognizer_std=1.0,
        ),
        pool_size=1,
    )
    assert type(generic.recognizer).__name__ == recognizer_class
    assert generic.model_id == engine.model_id  # same file, same embedding space
    sims = []
    for name in SAMPLE_PHOTOS:
        image = engine.load(faces_dir / name)
        detection = engine.detect(image)[0]
        ours = engine.describe(image, [detection])[0].embedding
        theirs = generic.describe(image, [detection])[0].embedding
        assert theirs.shape == ours.shape
        sims.append(cosine(ours, theirs))
    assert min(sims) >= 0.99, sims


def test_bring_your_own_model_colour_order_matters(engine: FaceEngine, faces_dir: Path):
    bgr = FaceEngine(
        Settings(recognizer_backend="onnxruntime", recognizer_color_order="bgr"), pool_size=1
    )
    image = engine.load(faces_dir / "people/Rose_Leslie/fr_img2.jpg")
    detection = engine.detect(image)[0]
    ours = engine.describe(image, [detection])[0].embedding
    swapped = bgr.describe(image, [detection])[0].embedding
    assert cosine(ours, swapped) < 0.99  # the setting really reaches the model


def test_batch_plan_splits_without_padding():
    assert batch_plan(0) == []
    assert batch_plan(1) == [1]
    assert batch_plan(3) == [2, 1]
    assert batch_plan(7) == [4, 2, 1]
    assert batch_plan(19) == [8, 8, 2, 1]
    assert all(sum(batch_plan(n)) == n for n in range(40))


def test_large_batch_equals_one_at_a_time(engine: FaceEngine, group_crops: list[np.ndarray]):
    """15 crops go as 8 + 4 + 2 + 1 compiled batches: every size gives the one-by-one vector."""
    crops = (group_crops * 3)[:15]
    batch = engine.recognizer.embed(crops)
    single = np.concatenate([engine.recognizer.embed([c]) for c in crops])
    assert batch.shape == (15, 128)
    assert np.allclose(batch, single, atol=1e-5)
