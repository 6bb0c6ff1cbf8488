"""Confidence intervals and significance tests over cross-validation results.

- Across folds: mean, SD and a confidence interval by the t distribution with k-1 degrees
  of freedom (how the paper reports F1), and a percentile bootstrap interval on the pooled
  out-of-fold predictions.
- Between methods scored on the same folds: the paired t-test, the Nadeau & Bengio (2003)
  corrected resampled t-test (the plain paired t-test ignores that training sets of
  different folds overlap, which makes it too liberal), and the exact McNemar test on
  pooled predictions; Holm's step-down adjustment when several methods are compared with
  one reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from pairlm.evaluation.metrics import (
    LOG_LOSS_EPS,
    METRIC_NAMES,
    check_binary,
    check_labels_scores,
    rates_from_counts,
)

_THRESHOLD_METRICS = ("f1", "precision", "recall", "accuracy", "mcc")


def _as_scores(values: Any, what: str = "values") -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one score per fold), got shape {v.shape}")
    if len(v) == 0:
        raise ValueError(f"{what} is empty")
    if not np.isfinite(v).all():
        raise ValueError(f"{what} contains NaN or inf: {v.tolist()}")
    return v


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(confidence)


# ---------------------------------------------------------------------- across folds
def t_interval(values: Any, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the t-distribution confidence interval of the mean of fold scores.

    `mean ± t_{(1+c)/2, k-1} · sd / sqrt(k)` with the sample SD (ddof=1), as the paper reports.
    With one value the bounds are NaN; with zero spread they equal the mean.
    """
    v = _as_scores(values)
    c = _check_confidence(confidence)
    m = float(v.mean())
    k = len(v)
    if k < 2:
        return m, math.nan, math.nan
    half = float(sps.t.ppf((1.0 + c) / 2.0, k - 1)) * float(v.std(ddof=1)) / math.sqrt(k)
    return m, m - half, m + half


def summarize_folds(values: Any, confidence: float = 0.95) -> dict[str, float]:
    """{"mean", "sd" (ddof=1), "ci_low", "ci_high", "n"} of per-fold scores."""
    v = _as_scores(values)
    m, lo, hi = t_interval(v, confidence)
    sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
    return {"mean": m, "sd": sd, "ci_low": lo, "ci_high": hi, "n": float(len(v))}


# ---------------------------------------------------------------------- bootstrap
def bootstrap_ci(
    y_true: Any,
    proba: Any,
    threshold: Any,
    metric: str = "f1",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric` on pooled out-of-fold predictions.

    Pairs are resampled with replacement `n_boot` times. `threshold` is a scalar or one
    threshold per pair (pooled predictions of different folds carry their fold's
    threshold); a pair is predicted positive when `proba >= threshold`.

    Vectorised: for the threshold metrics (F1, precision, recall, accuracy, MCC) only the
    confusion cell of each pair matters, so a resample's cell counts are drawn directly from
    Multinomial(n, cell shares), which is exactly the distribution that resampling pairs
    gives, in O(n_boot). ROC-AUC, average precision and log-loss use resample counts per
    pair (weights) over a fixed sort. Replicates where a metric is undefined (one class only)
    are left out of the quantiles.
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    c = _check_confidence(confidence)
    y, p = check_labels_scores(y_true, proba)
    n = len(y)
    thr = np.asarray(threshold, dtype=np.float64)
    if thr.ndim == 0:
        thr = np.full(n, float(thr))
    elif thr.shape != (n,):
        raise ValueError(f"threshold must be a scalar or have shape ({n},), got {thr.shape}")
    if np.isnan(thr).any():
        raise ValueError("threshold contains NaN")
    rng = np.random.default_rng(seed)
    b = int(n_boot)

    if metric in _THRESHOLD_METRICS:
        pred = p >= thr
        cells = np.array(
            [
                np.count_nonzero(pred & (y == 1)),
                np.count_nonzero(pred & (y == 0)),
                np.count_nonzero(~pred & (y == 1)),
                np.count_nonzero(~pred & (y == 0)),
            ],
            dtype=np.float64,
        )
        draws = rng.multinomial(n, cells / n, size=b)
        values = rates_from_counts(draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3])[metric]
    else:
        values = np.empty(b, dtype=np.float64)
        if metric == "log_loss":
            q = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
            loss = np.where(y == 1, -np.log(q), -np.log1p(-q))
            for sl, w in _resample_weights(rng, n, b):
                values[sl] = w @ loss / n
        elif metric in ("roc_auc", "average_precision"):
            ascending = metric == "roc_auc"
            order = np.argsort(p if ascending else -p, kind="mergesort")
            ps, ys = p[order], y[order]
            starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
            fn = _weighted_auc if ascending else _weighted_ap
            # resampling is uniform over pairs, so counts can be drawn directly in sorted order
            for sl, w in _resample_weights(rng, n, b):
                values[sl] = fn(w, ys, starts)
        else:  # a metric added to METRIC_NAMES without a bootstrap here: say so, do not guess
            raise ValueError(f"bootstrap_ci has no resampling rule for metric {metric!r}")
    lo, hi = np.nanquantile(values, [(1.0 - c) / 2.0, (1.0 + c) / 2.0])
    return float(lo), float(hi)


def _resample_weights(rng: np.random.Generator, n: int, b: int, chunk_elems: int = 2_000_000):
    """Yield (slice, counts) with counts[r, i] = times pair i is drawn in resample r."""
    rows = max(1, chunk_elems // max(n, 1))
    for start in range(0, b, rows):
        r = min(rows, b - start)
        idx = rng.integers(0, n, size=(r, n))
        idx += (np.arange(r) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(np.float64)
        yield slice(start, start + r), counts


def _weighted_auc(w: np.ndarray, ys: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """ROC-AUC per row of weights `w` over pairs sorted by ascending score (ties as halves)."""
    pos = np.add.reduceat(w * ys, starts, axis=1)
    neg = np.add.reduceat(w * (1 - ys), starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    tot_p, tot_n = pos.sum(axis=1), neg.sum(axis=1)
    num = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((tot_p > 0) & (tot_n > 0), num / (tot_p * tot_n), np.nan)


def _weighted_ap(w: np.ndarray, ys: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step definition) per row of weights `w` over pairs
    sorted by descending score."""
    pos = np.add.reduceat(w * ys, starts, axis=1)
    tot = np.add.reduceat(w, starts, axis=1)
    tp, pp = np.cumsum(pos, axis=1), np.cumsum(tot, axis=1)
    tot_p = pos.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pp > 0, tp / pp, 0.0)
        ap = (pos * precision).sum(axis=1) / tot_p
        return np.where((tot_p > 0) & (tot_p < tot.sum(axis=1)), ap, np.nan)


# ---------------------------------------------------------------------- paired tests
def _differences(a: Any, b: Any) -> np.ndarray:
    x, y = _as_scores(a, "a"), _as_scores(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b need one score per fold each: {len(x)} vs {len(y)}")
    if len(x) < 2:
        raise ValueError(f"a paired test needs at least 2 folds, got {len(x)}")
    return x - y


def _t_from_differences(d: np.ndarray, variance_factor: float) -> tuple[float, float]:
    k = len(d)
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    if var <= 1e-15 * max(1.0, mean * mean):
        if mean == 0.0 or abs(mean) < 1e-12:
            return 0.0, 1.0  # identical on every fold: no evidence of a difference
        return math.copysign(math.inf, mean), 0.0  # the same nonzero gap on every fold
    t = mean / math.sqrt(variance_factor * var)
    return t, float(2.0 * sps.t.sf(abs(t), k - 1))


def paired_t_test(a: Any, b: Any) -> tuple[float, float]:
    """(t, two-sided p) of the paired t-test on per-fold scores `a` and `b` (t > 0: a > b).

    Identical scores on every fold give (0.0, 1.0), not NaN.
    """
    d = _differences(a, b)
    return _t_from_differences(d, 1.0 / len(d))


def corrected_resampled_t_test(a: Any, b: Any, n_train: int, n_test: int) -> tuple[float, float]:
    """(t, two-sided p) of Nadeau & Bengio's (2003) corrected resampled t-test.

    `t = mean(d) / sqrt((1/k + n_test/n_train) · var(d))` with k-1 degrees of freedom, where
    d are the per-fold differences a - b and var uses ddof=1. For 10-fold CV
    (n_test/n_train = 1/9) the variance is about twice the plain paired t-test's.
    """
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    d = _differences(a, b)
    return _t_from_differences(d, 1.0 / len(d) + n_test / n_train)


def mcnemar_exact(y_true: Any, pred_a: Any, pred_b: Any) -> dict[str, float]:
    """Exact McNemar test of two classifiers' 0/1 predictions on the same pairs.

    b = pairs A gets right and B wrong, c = pairs A gets wrong and B right;
    p = min(1, 2 · Binomial(b + c, 1/2).cdf(min(b, c))); p = 1 when b + c = 0.
    """
    y = np.asarray(y_true)
    pa, pb = np.asarray(pred_a), np.asarray(pred_b)
    if y.ndim != 1 or pa.shape != y.shape or pb.shape != y.shape:
        raise ValueError(
            f"y_true {y.shape}, pred_a {pa.shape} and pred_b {pb.shape} must be 1-D and equal"
        )
    if len(y) == 0:
        raise ValueError("McNemar's test needs at least one pair")
    y = check_binary(y, "y_true")
    pa = check_binary(pa, "pred_a")
    pb = check_binary(pb, "pred_b")
    ra, rb = pa == y, pb == y
    b = int(np.count_nonzero(ra & ~rb))
    c = int(np.count_nonzero(~ra & rb))
    p = 1.0 if b + c == 0 else min(1.0, 2.0 * float(sps.binom.cdf(min(b, c), b + c, 0.5)))
    return {"b": float(b), "c": float(c), "p": p}


def holm(pvalues: Any) -> np.ndarray:
    """Holm's step-down adjusted P values (monotone, at most 1), in the input order.

    NaN entries stay NaN and do not count towards the number of comparisons.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q = p[ok]
        if ((q < 0) | (q > 1)).any():
            raise ValueError(f"P values must be in [0, 1], got {q.tolist()}")
        m = len(q)
        order = np.argsort(q, kind="mergesort")
        adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
        res = np.empty(m)
        res[order] = np.minimum(adj, 1.0)
        out[ok] = res
    return out


def compare_runs(
    scores: Sequence[float],
    ref_scores: Sequence[float],
    n_train: int,
    n_test: int,
    pooled: tuple[Any, Any, Any] | None = None,
) -> dict[str, float]:
    """One method against a reference: `scores` / `ref_scores` per fold (same folds, same
    order); `pooled` optionally (y_true, method's 0/1 predictions, reference's) on the pairs
    both scored. Returns {"diff", "p_paired_t", "p_corrected_t", "p_mcnemar", "n_mcnemar"}
    (McNemar NaN without `pooled`), and "diff_ci_low"/"diff_ci_high" (95% t interval of the
    per-fold differences); with one fold the t-tests and the interval are NaN. No
    multiplicity adjustment (see `holm`)."""
    s = _as_scores(scores, "fold scores")
    ref = _as_scores(ref_scores, "reference fold scores")
    if s.shape != ref.shape:
        raise ValueError(f"{len(s)} fold scores against {len(ref)} of the reference")
    p_t = p_c = math.nan  # one fold: no fold-level test; McNemar still judges the pairs
    if len(s) > 1:
        _, p_t = paired_t_test(s, ref)
        _, p_c = corrected_resampled_t_test(s, ref, n_train, n_test)
    p_mc, n_mc = math.nan, 0
    if pooled is not None:
        y, pred, pred_ref = (np.asarray(a) for a in pooled)
        if not (y.shape == pred.shape == pred_ref.shape):
            raise ValueError("pooled labels and predictions differ in length")
        n_mc = len(y)
        if n_mc:
            p_mc = mcnemar_exact(y, pred, pred_ref)["p"]
    d_lo, d_hi = (math.nan, math.nan)
    if len(s) > 1:
        _, d_lo, d_hi = t_interval(s - ref)
    return {
        "diff": float((s - ref).mean()),
        "diff_ci_low": float(d_lo),
        "diff_ci_high": float(d_hi),
        "p_paired_t": p_t,
        "p_corrected_t": p_c,
        "p_mcnemar": p_mc,
        "n_mcnemar": float(n_mc),
    }


def add_holm(results: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Add "p_corrected_t_holm" and "p_mcnemar_holm" (Holm across the methods) in place."""
    names = list(results)
    for key in ("p_corrected_t", "p_mcnemar"):
        adj = holm([results[n][key] for n in names])
        for i, n in enumerate(names):
            results[n][f"{key}_holm"] = float(adj[i])
    return results


def compare_to_reference(
    fold_scores: Mapping[str, Sequence[float]],
    reference: str,
    n_train: int,
    n_test: int,
    pooled: Mapping[str, tuple[Any, Any]] | None = None,
) -> dict[str, dict[str, float]]:
    """Compare every method with `reference` on the same folds.

    `fold_scores[name]` holds one score per fold (same fold order for every method);
    `pooled[name]` optionally holds (y_true, 0/1 predictions) on the same pooled pairs in the
    same order. For every method other than the reference, returns `compare_runs`' fields
    plus "p_corrected_t_holm" and "p_mcnemar_holm" (Holm across the comparisons). P values
    without pooled predictions are NaN. (Runs that scored different pairs: `compare_runs`
    per method on the pairs it shares with the reference, then `add_holm`.)
    """
    if reference not in fold_scores:
        raise KeyError(f"reference {reference!r} not among {', '.join(map(str, fold_scores))}")
    out: dict[str, dict[str, float]] = {}
    for name in fold_scores:
        if name == reference:
            continue
        paired = None
        if pooled is not None and name in pooled and reference in pooled:
            y_ref, pred_ref = pooled[reference]
            y_m, pred_m = pooled[name]
            if np.shape(y_ref) != np.shape(y_m) or not np.array_equal(y_ref, y_m):
                raise ValueError(
                    f"pooled predictions of {name!r} and {reference!r} are not on the same pairs"
                )
            paired = (y_ref, pred_m, pred_ref)
        try:
            out[name] = compare_runs(
                fold_scores[name], fold_scores[reference], n_train, n_test, paired
            )
        except ValueError as e:
            raise ValueError(f"{name!r} against reference {reference!r}: {e}") from None
    return add_holm(out)
