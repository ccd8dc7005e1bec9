"""The verification protocol (LFW View 2 style) on any pair list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.eval.metrics import auc, best_threshold, kfold_accuracy, tar_at_far
from facegate.eval.pairs import embed_main_faces, pair_scores, read_pairs

FARS = (0.01, 0.001)
LFW_DEV_PAIRS = 1800  # the dev file holds LFW folds 1-3: evaluate it as 3 folds


def default_folds(n_pairs: int) -> int:
    """3 folds for the 1,800-pair dev LFW file (its three original folds), else 10."""
    return 3 if n_pairs == LFW_DEV_PAIRS else 10


def evaluate_verification(
    engine: FaceEngine,
    pairs_file: Path,
    root: Path | None = None,
    folds: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol and return the report printed by ``facegate eval verify``."""
    pairs = read_pairs(pairs_file, root)
    labels = np.array([p.same for p in pairs])
    images = embed_main_faces(engine, [p.left for p in pairs] + [p.right for p in pairs], progress)
    scores = pair_scores(pairs, images)
    k = folds or default_folds(len(pairs))
    fold_result = kfold_accuracy(scores, labels, k)
    return {
        "pairs_file": str(pairs_file),
        "pairs": len(pairs),
        "same_pairs": int(labels.sum()),
        "folds": k,
        "accuracy": round(fold_result.mean, 4),
        "accuracy_std": round(fold_result.std, 4),
        "auc": round(auc(scores, labels), 5),
        "tar_at_far": {str(far): round(tar_at_far(scores, labels, far)[0], 4) for far in FARS},
        "threshold": round(best_threshold(scores, labels), 4),
        "fold_thresholds": [round(t, 4) for t in fold_result.thresholds],
        "images": len(images.embeddings),
        "no_face": len(images.no_face),
        "no_face_images": [str(p) for p in images.no_face[:20]],
        "ms_per_image": round(images.ms_per_image, 2),
        "model": engine.model_id,
        "flip_average": engine.settings.flip_average,
        "det_score_threshold": engine.settings.det_score_threshold,
    }


def calibrate(
    engine: FaceEngine, pairs_file: Path, far: float, root: Path | None = None
) -> dict[str, Any]:
    """The similarity threshold at which impostor pairs are accepted at most ``far`` of the
    time, with the true-accept rate it leaves; what ``facegate calibrate`` prints."""
    pairs = read_pairs(pairs_file, root)
    labels = np.array([p.same for p in pairs])
    images = embed_main_faces(engine, [p.left for p in pairs] + [p.right for p in pairs])
    scores = pair_scores(pairs, images)
    tar, threshold = tar_at_far(scores, labels, far)
    return {
        "pairs_file": str(pairs_file),
        "pairs": len(pairs),
        "impostor_pairs": int((~labels).sum()),
        "far": far,
        "threshold": round(threshold, 4),
        "tar": round(tar, 4),
        "no_face": len(images.no_face),
        "model": engine.model_id,
    }
