"""Metric code on small lists whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.eval.metrics import (
    accuracy_at,
    auc,
    best_threshold,
    contiguous_folds,
    kfold_accuracy,
    open_set_metrics,
    tar_at_far,
    threshold_at_far,
)


def test_auc_perfect_separation_is_one():
    assert auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0


def test_auc_reversed_is_zero():
    assert auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0


def test_auc_counts_ties_as_half():
    # genuine {0.5, 0.9}, impostor {0.5, 0.1}: pairs (g,i) = (0.5,0.5) tie -> 0.5,
    # (0.5,0.1) 1, (0.9,0.5) 1, (0.9,0.1) 1 -> 3.5 / 4
    assert auc([0.5, 0.9, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.875)


def test_auc_needs_both_classes():
    with pytest.raises(ValueError):
        auc([0.1, 0.2], [True, True])


def test_threshold_at_far_allows_floor_of_far_times_n():
    impostors = [0.1 * i for i in range(10)]  # 0.0 .. 0.9
    # FAR 0.1 of 10 impostors: one may pass -> threshold just above the 2nd highest (0.8)
    t = threshold_at_far(impostors, 0.1)
    assert 0.8 < t <= 0.9
    assert np.mean(np.array(impostors) >= t) == pytest.approx(0.1)
    # FAR 0.05 of 10: none may pass -> just above the highest
    t0 = threshold_at_far(impostors, 0.05)
    assert t0 > 0.9
    assert np.mean(np.array(impostors) >= t0) == 0.0


def test_threshold_at_far_handles_ties_conservatively():
    # three impostors tie at the top: FAR 0.25 of 4 allows one, but any threshold that admits
    # one admits all three, so the threshold must exclude the tie
    t = threshold_at_far([0.7, 0.7, 0.7, 0.1], 0.25)
    assert t > 0.7


def test_tar_at_far():
    scores = [0.9, 0.85, 0.4, 0.8, 0.3, 0.2, 0.1, 0.0]
    labels = [True, True, True, False, False, False, False, False]
    # FAR 0.2 of 5 impostors: one may pass (0.8) -> threshold just above 0.3;
    # genuine 0.9, 0.85, 0.4 all pass
    tar, t = tar_at_far(scores, labels, 0.2)
    assert 0.3 < t <= 0.4
    assert tar == 1.0
    # FAR 0.1: none may pass -> threshold above 0.8, genuine 0.9 and 0.85 pass
    tar, t = tar_at_far(scores, labels, 0.1)
    assert tar == pytest.approx(2 / 3)


def test_best_threshold_and_accuracy():
    scores = [0.9, 0.7, 0.6, 0.4, 0.3, 0.65]
    labels = [True, True, True, False, False, False]
    t = best_threshold(scores, labels)
    # one error is unavoidable (0.65 impostor above 0.6 genuine); best accuracy 5/6
    assert accuracy_at(scores, labels, t) == pytest.approx(5 / 6)


def test_contiguous_folds_cover_everything_once():
    folds = contiguous_folds(10, 3)
    assert [len(f) for f in folds] == [4, 3, 3]
    assert sorted(np.concatenate(folds).tolist()) == list(range(10))
    with pytest.raises(ValueError):
        contiguous_folds(3, 5)


def test_kfold_accuracy_uses_held_out_threshold():
    # Fold 2 has a genuine pair at 0.45 that the other folds' threshold (~0.5) rejects.
    scores = [0.9, 0.1, 0.8, 0.2, 0.45, 0.3]
    labels = [True, False, True, False, True, False]
    result = kfold_accuracy(scores, labels, 3)
    assert len(result.accuracies) == 3
    assert result.accuracies[0] == 1.0
    assert result.accuracies[1] == 1.0
    # fold 3's threshold from folds 1+2 lies between 0.2 and 0.8, 0.45 may land either side,
    # but 0.3 impostor must be rejected iff threshold > 0.3
    t3 = result.thresholds[2]
    genuine_accepted = t3 <= 0.45
    impostor_rejected = t3 > 0.3
    expected = (genuine_accepted + impostor_rejected) / 2
    assert result.accuracies[2] == pytest.approx(expected)
    assert result.mean == pytest.approx(np.mean(result.accuracies))


def test_open_set_metrics_by_hand():
    known_correct = [True, True, True, False]
    known_scores = [0.9, 0.6, 0.4, 0.95]
    unknown_scores = [0.5, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5]
    result = open_set_metrics(known_correct, known_scores, unknown_scores, fpirs=(0.1, 0.01))
    assert result.rank1 == 0.75
    # FPIR 0.1: one unknown may pass (0.5) -> threshold just above 0.3: known hits 0.9, 0.6,
    # 0.4 (the 0.95 probe is ranked to the wrong identity and never counts)
    assert 0.3 < result.thresholds["0.1"] <= 0.4
    assert result.tpir_at_fpir["0.1"] == 0.75
    # FPIR 0.01: none may pass -> threshold just above 0.5: 0.9 and 0.6 remain
    assert 0.5 < result.thresholds["0.01"] <= 0.6
    assert result.tpir_at_fpir["0.01"] == 0.5
