"""Pure metric functions on similarity scores; no images, no models.

Conventions: a higher score means "more likely the same person"; a pair or probe is accepted
when ``score >= threshold``. Thresholds for a target false-accept rate are chosen so that the
rate measured on the given impostor scores never exceeds the target, ties included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Scores and labels come as plain lists from callers and as arrays from the evaluation code;
# every function takes both and converts once with np.asarray.
Scores = Sequence[float] | np.ndarray
Labels = Sequence[bool] | np.ndarray


def _as_arrays(scores: Scores, labels: Labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-D and of equal length")
    return s, y


def threshold_at_far(impostor_scores: Scores, far: float) -> float:
    """The lowest threshold whose false-accept rate on these impostor scores is <= ``far``.

    With ``n`` impostors at most ``floor(far * n)`` may score at or above the threshold, so the
    threshold sits just above the next impostor score.
    """
    imp = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
    if imp.size == 0:
        raise ValueError("no impostor scores")
    allowed = int(np.floor(far * imp.size + 1e-9))
    if allowed >= imp.size:
        return float(imp[-1])
    return float(np.nextafter(imp[allowed], np.inf))


def tar_at_far(scores: Scores, labels: Labels, far: float) -> tuple[float, float]:
    """(true-accept rate, threshold) at the threshold chosen for ``far`` on the impostors."""
    s, y = _as_arrays(scores, labels)
    threshold = threshold_at_far(s[~y], far)
    genuine = s[y]
    tar = float(np.mean(genuine >= threshold)) if genuine.size else 0.0
    return tar, threshold


def auc(scores: Scores, labels: Labels) -> float:
    """Area under the ROC curve: the chance a random genuine pair outscores a random impostor
    (ties count half), computed from ranks so it is exact."""
    s, y = _as_arrays(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both genuine and impostor scores")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1  # average rank of a tie group
        i = j + 1
    rank_sum = ranks[y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy_at(scores: Scores, labels: Labels, threshold: float) -> float:
    """Fraction of pairs decided correctly at ``threshold``."""
    s, y = _as_arrays(scores, labels)
    return float(np.mean((s >= threshold) == y))


def best_threshold(scores: Scores, labels: Labels) -> float:
    """The threshold with the highest accuracy; among equals, the middle of the best range.

    Candidates are the midpoints between consecutive distinct scores (and the extremes), so
    the result does not sit on a training score and generalises a little better.
    """
    s, y = _as_arrays(scores, labels)
    distinct = np.unique(s)
    candidates = np.concatenate(
        [[distinct[0] - 1e-6], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1e-6]]
    )
    accuracies = np.array([np.mean((s >= t) == y) for t in candidates])
    best = np.flatnonzero(accuracies == accuracies.max())
    return float(candidates[best[len(best) // 2]])


@dataclass(frozen=True)
class FoldResult:
    """K-fold verification: per-fold accuracy at a threshold chosen on the other folds."""

    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))


def contiguous_folds(n: int, k: int) -> list[np.ndarray]:
    """Split ``range(n)`` into ``k`` contiguous folds, as the LFW protocol lays out its file."""
    if not 1 < k <= n:
        raise ValueError(f"need 1 < folds <= pairs, got folds={k} pairs={n}")
    return [np.asarray(part) for part in np.array_split(np.arange(n), k)]


def kfold_accuracy(scores: Scores, labels: Labels, k: int) -> FoldResult:
    """LFW-style accuracy: for each fold, pick the threshold on the rest and test on it."""
    s, y = _as_arrays(scores, labels)
    folds = contiguous_folds(len(s), k)
    accuracies, thresholds = [], []
    for held in folds:
        train = np.ones(len(s), dtype=bool)
        train[held] = False
        threshold = best_threshold(s[train], y[train])
        accuracies.append(accuracy_at(s[held], y[held], threshold))
        thresholds.append(threshold)
    return FoldResult(tuple(accuracies), tuple(thresholds))


@dataclass(frozen=True)
class OpenSetResult:
    """Open-set identification: rank-1 and TPIR at fixed FPIRs with their thresholds."""

    rank1: float
    tpir_at_fpir: dict[str, float]
    thresholds: dict[str, float]


def open_set_metrics(
    known_correct: Labels,
    known_scores: Scores,
    unknown_scores: Scores,
    fpirs: Sequence[float] = (0.01, 0.1),
) -> OpenSetResult:
    """Metrics from each probe's best gallery match.

    ``known_correct[i]`` says whether known probe ``i``'s best match is its own identity and
    ``known_scores[i]`` is that match's score; ``unknown_scores`` are the best scores of probes
    whose identity is not enrolled. At the threshold where at most ``fpir`` of the unknown
    probes are (falsely) accepted, TPIR is the share of known probes that are both correctly
    ranked first and accepted.
    """
    correct = np.asarray(known_correct, dtype=bool)
    scores = np.asarray(known_scores, dtype=np.float64)
    if correct.shape != scores.shape:
        raise ValueError("known_correct and known_scores must have equal length")
    rank1 = float(correct.mean()) if correct.size else 0.0
    tpir, thresholds = {}, {}
    for fpir in fpirs:
        threshold = threshold_at_far(unknown_scores, fpir)
        hits = correct & (scores >= threshold)
        tpir[str(fpir)] = float(hits.mean()) if hits.size else 0.0
        thresholds[str(fpir)] = threshold
    return OpenSetResult(rank1, tpir, thresholds)
