"""Intervals and tests against scipy / statsmodels / scikit-learn and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from pairlm.evaluation.stats import (
    _weighted_ap,
    _weighted_auc,
    bootstrap_ci,
    compare_runs,
    compare_to_reference,
    corrected_resampled_t_test,
    holm,
    mcnemar_exact,
    paired_t_test,
    summarize_folds,
    t_interval,
)

F1_A = [0.741, 0.735, 0.752, 0.728, 0.744, 0.739, 0.748, 0.731, 0.746, 0.737]
F1_B = [0.733, 0.731, 0.741, 0.727, 0.735, 0.736, 0.739, 0.726, 0.741, 0.729]


# ---------------------------------------------------------------------- intervals
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_t_interval_matches_scipy(confidence: float) -> None:
    v = np.array(F1_A)
    m, lo, hi = t_interval(v, confidence)
    slo, shi = sps.t.interval(confidence, len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert m == pytest.approx(v.mean(), abs=1e-15)
    assert lo == pytest.approx(slo, abs=1e-12) and hi == pytest.approx(shi, abs=1e-12)


def test_summarize_folds() -> None:
    s = summarize_folds(F1_A)
    assert s["sd"] == pytest.approx(np.std(F1_A, ddof=1), abs=1e-15)
    assert s["n"] == 10.0
    assert (s["mean"], s["ci_low"], s["ci_high"]) == t_interval(F1_A)


def test_t_interval_edge_cases() -> None:
    m, lo, hi = t_interval([0.5])
    assert m == 0.5 and math.isnan(lo) and math.isnan(hi)
    assert t_interval([0.7, 0.7, 0.7]) == (
        pytest.approx(0.7),
        pytest.approx(0.7),
        pytest.approx(0.7),
    )
    for bad in ([], [0.1, float("nan")], [[0.1, 0.2]]):
        with pytest.raises(ValueError):
            t_interval(bad)
    with pytest.raises(ValueError, match="confidence"):
        t_interval(F1_A, 1.5)


# ---------------------------------------------------------------------- paired tests
def test_paired_t_matches_scipy() -> None:
    t, p = paired_t_test(F1_A, F1_B)
    ref = sps.ttest_rel(F1_A, F1_B)
    assert t == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-10)
    t2, p2 = paired_t_test(F1_B, F1_A)
    assert t2 == pytest.approx(-t) and p2 == pytest.approx(p)


def test_corrected_t_hand_computation_and_more_conservative() -> None:
    a = [0.80, 0.82, 0.79, 0.81, 0.83]
    b = [0.78, 0.81, 0.78, 0.78, 0.80]
    d = [0.02, 0.01, 0.01, 0.03, 0.03]  # a - b
    mean = sum(d) / 5  # 0.02
    var = sum((x - mean) ** 2 for x in d) / 4  # 0.0001
    n_train, n_test = 800, 200
    t_hand = mean / math.sqrt((1 / 5 + n_test / n_train) * var)  # 0.02 / sqrt(0.45e-4)
    p_hand = 2 * sps.t.sf(abs(t_hand), 4)
    t, p = corrected_resampled_t_test(a, b, n_train, n_test)
    assert t == pytest.approx(t_hand, rel=1e-9) and t == pytest.approx(0.02 / math.sqrt(0.45e-4))
    assert p == pytest.approx(p_hand, rel=1e-9)
    t_plain, p_plain = paired_t_test(a, b)
    assert abs(t) < abs(t_plain) and p > p_plain
    # 10-fold CV: correction factor (1/10 + 1/9) / (1/10)
    t10, _ = corrected_resampled_t_test(F1_A, F1_B, 9000, 1000)
    tp, _ = paired_t_test(F1_A, F1_B)
    assert tp / t10 == pytest.approx(math.sqrt((0.1 + 1 / 9) / 0.1))


def test_zero_variance() -> None:
    assert paired_t_test(F1_A, F1_A) == (0.0, 1.0)
    assert corrected_resampled_t_test(F1_A, F1_A, 90, 10) == (0.0, 1.0)
    shifted = [x + 0.01 for x in F1_B]
    t, p = paired_t_test(shifted, F1_B)
    assert t == math.inf and p == 0.0


def test_paired_bad_input() -> None:
    with pytest.raises(ValueError, match="one score per fold"):
        paired_t_test([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least 2"):
        paired_t_test([0.1], [0.2])
    with pytest.raises(ValueError, match="positive"):
        corrected_resampled_t_test(F1_A, F1_B, 0, 10)


@pytest.mark.parametrize(("n_b", "n_c"), [(0, 0), (3, 0), (5, 5), (12, 4), (40, 61), (2, 30)])
def test_mcnemar_matches_statsmodels(n_b: int, n_c: int) -> None:
    rng = np.random.default_rng(n_b * 100 + n_c)
    n_same = 50
    y = rng.integers(0, 2, n_b + n_c + n_same)
    # first n_b: A right B wrong; next n_c: A wrong B right; rest: both right or both wrong
    both_right = rng.random(n_same) < 0.7
    a_right = np.r_[np.ones(n_b, bool), np.zeros(n_c, bool), both_right]
    b_right = np.r_[np.zeros(n_b, bool), np.ones(n_c, bool), both_right]
    pa, pb = np.where(a_right, y, 1 - y), np.where(b_right, y, 1 - y)
    out = mcnemar_exact(y, pa, pb)
    assert out["b"] == n_b and out["c"] == n_c
    table = [
        [int(np.sum(a_right & b_right)), n_b],
        [n_c, int(np.sum(~a_right & ~b_right))],
    ]
    assert out["p"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)


def test_mcnemar_bad_input() -> None:
    with pytest.raises(ValueError, match="1-D"):
        mcnemar_exact([0, 1], [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="pred_a"):
        mcnemar_exact([0, 1], [0.3, 0.9], [0, 1])


@pytest.mark.parametrize(
    "pvalues",
    [[0.01, 0.04, 0.03, 0.2], [0.5], [0.001, 0.001, 0.9, 0.04, 0.049], [0.3, 0.6, 0.8]],
)
def test_holm_matches_statsmodels(pvalues: list[float]) -> None:
    expected = multipletests(pvalues, method="holm")[1]
    np.testing.assert_allclose(holm(pvalues), expected, rtol=1e-12)


def test_holm_nan_and_bounds() -> None:
    out = holm([0.01, float("nan"), 0.04])
    np.testing.assert_allclose(out[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])
    assert math.isnan(out[1])
    assert holm([]).shape == (0,)
    with pytest.raises(ValueError):
        holm([0.1, 1.2])


# ---------------------------------------------------------------------- bootstrap
def _scores(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.37).astype(int)
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 3)
    return y, p


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(skm.f1_score(y, pred))


@pytest.mark.parametrize("metric", ["f1", "roc_auc", "average_precision", "log_loss", "mcc"])
def test_bootstrap_contains_point_estimate_and_narrows(metric: str) -> None:
    from pairlm.evaluation.metrics import binary_metrics

    widths = []
    for n in (200, 5000):
        y, p = _scores(n)
        lo, hi = bootstrap_ci(y, p, 0.5, metric=metric, n_boot=400, seed=1)
        point = binary_metrics(y, p, 0.5)[metric]
        assert lo < point < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2.5  # ~ 1/sqrt(n): 5x narrower expected


def test_bootstrap_agrees_with_naive_resampling() -> None:
    """The vectorised bootstrap has the distribution of resampling pairs by index."""
    y, p = _scores(400, seed=7)
    thr = 0.45
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), size=(3000, len(y)))
    yb, pb = y[idx], p[idx]
    predb = pb >= thr
    tp = (predb & (yb == 1)).sum(1)
    naive_f1 = 2 * tp / (predb.sum(1) + yb.sum(1))
    # Mann-Whitney form of the AUC, average ranks for ties
    ranks = sps.rankdata(pb, axis=1)
    n_pos = yb.sum(1)
    naive_auc = ((ranks * yb).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))
    assert naive_auc[0] == pytest.approx(skm.roc_auc_score(yb[0], pb[0]))
    assert naive_f1[0] == pytest.approx(_f1(yb[0], predb[0].astype(int)))
    for metric, naive in (("f1", naive_f1), ("roc_auc", naive_auc)):
        lo, hi = bootstrap_ci(y, p, thr, metric=metric, n_boot=3000, seed=2)
        nlo, nhi = np.quantile(naive, [0.025, 0.975])
        assert lo == pytest.approx(nlo, abs=0.01) and hi == pytest.approx(nhi, abs=0.01)


def test_weighted_auc_ap_match_sklearn_sample_weight() -> None:
    y, p = _scores(300, seed=11)
    w = np.random.default_rng(5).integers(0, 4, size=(3, len(y))).astype(float)
    asc = np.argsort(p, kind="mergesort")
    starts_a = np.flatnonzero(np.r_[True, p[asc][1:] != p[asc][:-1]])
    desc = np.argsort(-p, kind="mergesort")
    starts_d = np.flatnonzero(np.r_[True, p[desc][1:] != p[desc][:-1]])
    auc = _weighted_auc(w[:, asc], y[asc], starts_a)
    ap = _weighted_ap(w[:, desc], y[desc], starts_d)
    for r in range(3):
        assert auc[r] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w[r]), abs=1e-12)
        assert ap[r] == pytest.approx(
            skm.average_precision_score(y, p, sample_weight=w[r]), abs=1e-12
        )


def test_bootstrap_per_pair_threshold() -> None:
    y, p = _scores(1000)
    scalar = bootstrap_ci(y, p, 0.5, n_boot=200, seed=4)
    assert bootstrap_ci(y, p, np.full(len(y), 0.5), n_boot=200, seed=4) == scalar
    # half the pairs from a fold whose threshold is 0.9: fewer positives predicted there
    thr = np.where(np.arange(len(y)) % 2 == 0, 0.5, 0.9)
    lo, hi = bootstrap_ci(y, p, thr, n_boot=200, seed=4)
    point = _f1(y, (p >= thr).astype(int))
    assert lo < point < hi and (lo, hi) != scalar
    with pytest.raises(ValueError, match="threshold"):
        bootstrap_ci(y, p, np.full(3, 0.5))


def test_bootstrap_deterministic_and_validates() -> None:
    y, p = _scores(500)
    assert bootstrap_ci(y, p, 0.5, seed=9, n_boot=100) == bootstrap_ci(
        y, p, 0.5, seed=9, n_boot=100
    )
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_ci(y, p, 0.5, metric="auc")
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(y, p, 0.5, n_boot=0)
    with pytest.raises(ValueError, match="only 0 and 1"):
        bootstrap_ci(np.r_[y[:-1], 2], p, 0.5)


# ---------------------------------------------------------------------- comparisons
def test_compare_to_reference() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    preds = {
        "ref": np.where(rng.random(400) < 0.85, y, 1 - y),
        "worse": np.where(rng.random(400) < 0.75, y, 1 - y),
        "same": None,
    }
    preds["same"] = preds["ref"].copy()
    scores = {"ref": F1_A, "worse": F1_B, "same": list(F1_A)}
    pooled = {k: (y, v) for k, v in preds.items()}
    out = compare_to_reference(scores, "ref", 9000, 1000, pooled)
    assert set(out) == {"worse", "same"}
    keys = {
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "p_paired_t",
        "p_corrected_t",
        "p_corrected_t_holm",
        "p_mcnemar",
        "p_mcnemar_holm",
        "n_mcnemar",
    }
    assert all(set(v) == keys for v in out.values())
    assert out["worse"]["n_mcnemar"] == 400
    w = out["worse"]
    assert w["diff"] == pytest.approx(np.mean(F1_B) - np.mean(F1_A))
    d = np.subtract(F1_B, F1_A)
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert (w["diff_ci_low"], w["diff_ci_high"]) == pytest.approx(
        (d.mean() - half, d.mean() + half)
    )
    assert w["p_paired_t"] == pytest.approx(sps.ttest_rel(F1_B, F1_A).pvalue)
    assert w["p_corrected_t"] == pytest.approx(
        corrected_resampled_t_test(F1_B, F1_A, 9000, 1000)[1]
    )
    assert w["p_mcnemar"] == pytest.approx(mcnemar_exact(y, preds["worse"], preds["ref"])["p"])
    s = out["same"]
    assert s["diff"] == 0.0 and s["p_paired_t"] == 1.0 and s["p_corrected_t"] == 1.0
    assert s["p_mcnemar"] == 1.0
    np.testing.assert_allclose(
        [w["p_corrected_t_holm"], s["p_corrected_t_holm"]],
        multipletests([w["p_corrected_t"], 1.0], method="holm")[1],
    )
    np.testing.assert_allclose(
        [w["p_mcnemar_holm"], s["p_mcnemar_holm"]],
        multipletests([w["p_mcnemar"], 1.0], method="holm")[1],
    )


def test_compare_to_reference_without_pooled_and_errors() -> None:
    out = compare_to_reference({"a": F1_A, "b": F1_B}, "b", 90, 10)
    assert math.isnan(out["a"]["p_mcnemar"]) and math.isnan(out["a"]["p_mcnemar_holm"])
    assert out["a"]["p_corrected_t_holm"] == out["a"]["p_corrected_t"]  # one comparison
    with pytest.raises(KeyError, match="reference"):
        compare_to_reference({"a": F1_A}, "b", 90, 10)
    with pytest.raises(ValueError, match="fold scores"):
        compare_to_reference({"a": F1_A, "b": F1_B[:5]}, "a", 90, 10)
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="same pairs"):
        compare_to_reference({"a": F1_A, "b": F1_B}, "a", 90, 10, {"a": (y, y), "b": (y[::-1], y)})


def test_compare_runs_on_one_fold_gives_mcnemar_alone() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    pred_ref = np.where(rng.random(300) < 0.6, y, 1 - y)
    c = compare_runs([0.71], [0.54], 2000, 300, (y, pred, pred_ref))
    assert c["diff"] == pytest.approx(0.17)
    for key in ("p_paired_t", "p_corrected_t", "diff_ci_low", "diff_ci_high"):
        assert math.isnan(c[key]), key
    assert c["p_mcnemar"] == pytest.approx(mcnemar_exact(y, pred, pred_ref)["p"], rel=1e-12)
    assert c["p_mcnemar"] < 0.01 and c["n_mcnemar"] == 300
    two = compare_runs([0.71, 0.70], [0.54, 0.60], 2000, 300)  # two folds: the t-tests again
    assert not math.isnan(two["p_corrected_t"]) and math.isnan(two["p_mcnemar"])
