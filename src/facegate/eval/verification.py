"""The verification protocol (LFW View 2 style) on any pair list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.eval.metrics import auc, best_threshold, kfold_accuracy, tar_at_far
from facegate.eval.pairs import EmbeddedImages, embed_main_faces, pair_scores, read_pairs

FARS = (0.01, 0.001)
LFW_DEV_PAIRS = 1800  # the dev file holds LFW folds 1-3: evaluate it as 3 folds


def default_folds(n_pairs: int) -> int:
    """3 folds for the 1,800-pair dev LFW file (its three original folds), else 10."""
    return 3 if n_pairs == LFW_DEV_PAIRS else 10


@dataclass(frozen=True)
class ScoredPairs:
    """A pair file's labels and similarity scores, with the embedding run behind them."""

    pairs_file: Path
    labels: np.ndarray
    scores: np.ndarray
    images: EmbeddedImages


def score_pairs(
    engine: FaceEngine,
    pairs_file: Path,
    root: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScoredPairs:
    """Embed every image of a pair file once and score each pair."""
    pairs = read_pairs(pairs_file, root)
    images = embed_main_faces(engine, [p.left for p in pairs] + [p.right for p in pairs], progress)
    labels = np.array([p.same for p in pairs])
    return ScoredPairs(pairs_file, labels, pair_scores(pairs, images), images)


def evaluate_verification(
    engine: FaceEngine,
    pairs_file: Path,
    root: Path | None = None,
    folds: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol and return the report printed by ``facegate eval verify``."""
    scored = score_pairs(engine, pairs_file, root, progress)
    labels, scores, images = scored.labels, scored.scores, scored.images
    k = folds or default_folds(len(labels))
    fold_result = kfold_accuracy(scores, labels, k)
    return {
        "pairs_file": str(pairs_file),
        "pairs": len(labels),
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
        "flip_average": engine.settings.engine.flip_average,
        "det_score_threshold": engine.settings.engine.det_score_threshold,
    }


def calibrate(
    engine: FaceEngine, pairs_files: Sequence[Path], far: float, root: Path | None = None
) -> dict[str, Any]:
    """The similarity threshold that keeps the false-accept rate at or below ``far`` on
    *every* given pair file; what ``facegate calibrate`` prints.

    Each population (say LFW and the East-Asian CASIA pairs) gets its own threshold; the
    strictest is returned, so no population pays a higher false-accept rate than the target.
    The report shows each file's own threshold and its TAR/FAR at the returned one.
    """
    scored = [score_pairs(engine, f, root) for f in pairs_files]
    own = [tar_at_far(s.scores, s.labels, far) for s in scored]
    threshold = max(t for _, t in own)
    per_file = []
    for s, (own_tar, own_threshold) in zip(scored, own, strict=True):
        genuine, impostor = s.scores[s.labels], s.scores[~s.labels]
        per_file.append(
            {
                "pairs_file": str(s.pairs_file),
                "pairs": len(s.labels),
                "impostor_pairs": len(impostor),
                "own_threshold": round(own_threshold, 4),
                "own_tar": round(own_tar, 4),
                "tar": round(float(np.mean(genuine >= threshold)), 4),
                "far": round(float(np.mean(impostor >= threshold)), 5),
                "no_face": len(s.images.no_face),
            }
        )
    return {
        "far_target": far,
        "threshold": round(threshold, 4),
        "files": per_file,
        "model": engine.model_id,
    }
