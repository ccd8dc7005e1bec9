"""``FaceEngine.analyze`` from several threads at once gives the sequential answers."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from facegate.engine import Face, FaceEngine
from tests.engine.conftest import SAMPLE_PHOTOS

GROUPS = ("groups/bbt3.jpg", "groups/bbt4.jpg", "groups/bbt5.jpg", "groups/fr_two_people.jpg")


def same_faces(a: list[Face], b: list[Face]) -> bool:
    if len(a) != len(b):
        return False
    return all(
        x.box == y.box
        and np.allclose(x.landmarks, y.landmarks)
        and np.allclose(x.embedding, y.embedding, atol=1e-5)
        and x.quality == y.quality
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.slow
def test_four_threads_agree_with_sequential_calls(engine: FaceEngine, faces_dir: Path):
    images = [engine.load(faces_dir / p) for p in (*SAMPLE_PHOTOS[:4], *GROUPS)]
    expected = [engine.analyze(image) for image in images]
    assert sum(len(faces) for faces in expected) >= 4 + 18

    threads = 4
    rounds = 2
    start = threading.Barrier(threads)
    results: dict[tuple[int, int, int], list[Face]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for r in range(rounds):
                # Each thread walks the images from a different starting point, so at any
                # moment the threads work on different images.
                for k in range(len(images)):
                    i = (k + 2 * worker) % len(images)
                    results[(worker, r, i)] = engine.analyze(images[i])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == threads * rounds * len(images)
    for (worker, r, i), faces in results.items():
        assert same_faces(faces, expected[i]), (worker, r, i)
