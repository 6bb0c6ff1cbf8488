"""`choose_threshold`: the exact best cut, against a brute-force search with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from pairlm.models.thresholds import choose_threshold, rates_from_counts

SCORERS = {"f1": f1_score, "accuracy": accuracy_score, "mcc": matthews_corrcoef}


@pytest.mark.parametrize("metric", sorted(SCORERS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choose_threshold_reaches_the_brute_force_best(metric: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.25, 300), 0, 1), 2)  # with ties
    t = choose_threshold(y, p, metric)
    got = SCORERS[metric](y, (p >= t).astype(int))
    best = max(SCORERS[metric](y, (p >= c).astype(int)) for c in np.r_[np.unique(p), 2.0])
    assert got == pytest.approx(best)


def test_rates_from_counts_match_scikit_learn() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    pred = np.array([1, 0, 0, 1, 1, 0, 1, 1])
    tp, fp = ((pred == 1) & (y == 1)).sum(), ((pred == 1) & (y == 0)).sum()
    fn, tn = ((pred == 0) & (y == 1)).sum(), ((pred == 0) & (y == 0)).sum()
    r = rates_from_counts(tp, fp, fn, tn)
    assert r["f1"] == pytest.approx(f1_score(y, pred))
    assert r["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert r["accuracy"] == pytest.approx(accuracy_score(y, pred))


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown threshold metric"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "auc")
