"""CPU time per frame split by stage: where ``facegate bench engine``'s milliseconds go.

The product's per-frame work is decode (the camera's JPEG), detect, align (plus the quality
checks made on the aligned crop), embed and search (the gallery's nearest templates for every
face). Each stage is timed with the process CPU clock on one thread, after the timed runs
(nothing else of the process computes then; OpenVINO runs inference on its own worker
threads, so the calling thread's clock would miss it): other processes on a shared machine
stretch wall time but hardly CPU time, so the split is steady under load.

Frames are JPEG-encoded before timing (quality 90, what ``facegate stream`` clients send), so
the decode stage is what a server pays per received frame. The gallery is ``gallery_size``
random unit vectors in the product's own index (``VectorIndex``, exact up to 20,000).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.align import align_face
from facegate.engine.quality import assess
from facegate.gallery.index import VectorIndex
from facegate.gallery.types import Snapshot

STAGES = ("decode", "detect", "align", "embed", "search")
JPEG_QUALITY = 90


def random_gallery(size: int, dim: int, seed: int = 0) -> VectorIndex:
    """An index of ``size`` random unit templates, one person each."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, size + 1, dtype=np.int64)
    return VectorIndex.from_snapshot(Snapshot(1, ids, ids.copy(), vectors), dim)


def stage_split(
    engine: FaceEngine, frames: Sequence[np.ndarray], *, gallery_size: int = 1000, k: int = 5
) -> dict[str, float]:
    """Mean CPU milliseconds per frame of each stage in ``STAGES``, plus ``total``."""
    jpegs = [
        cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
        for f in frames
    ]
    size = engine.recognizer.input_size
    index: VectorIndex | None = None
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time
    for data in jpegs:
        t0 = clock()
        image = engine.load(data)
        t1 = clock()
        found = engine.detect(image)
        t2 = clock()
        crops = [align_face(image, d.landmarks, size) for d in found]
        for d, crop in zip(found, crops, strict=True):
            assess(d.box, d.landmarks, d.score, crop, engine.rules)
        t3 = clock()
        embeddings = engine.embed_crops(crops) if crops else np.zeros((0, 0), np.float32)
        t4 = clock()
        if len(embeddings):
            if index is None:
                index = random_gallery(gallery_size, embeddings.shape[1])
            for vector in embeddings:
                index.search(vector, k)
        t5 = clock()
        for stage, seconds in zip(
            STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
        ):
            spent[stage] += seconds
    n = max(1, len(jpegs))
    out = {stage: round(spent[stage] * 1000.0 / n, 2) for stage in STAGES}
    out["total"] = round(sum(spent.values()) * 1000.0 / n, 2)
    return out
