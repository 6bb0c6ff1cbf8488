"""Choosing the decision threshold on validation data, and the one place the confusion-count
formulas live (`rates_from_counts`: F1, precision, recall, accuracy, MCC), which the
threshold search and `evaluation.metrics` both use."""

from __future__ import annotations

import numpy as np


def choose_threshold(y_true: np.ndarray, proba: np.ndarray, metric: str = "f1") -> float:
    """The threshold t maximising `metric` for the rule `proba >= t`, over all distinct scores.

    Exact (no grid): every cut between distinct sorted scores is evaluated in O(n log n);
    the threshold returned lies midway between the lowest score predicted positive and the
    next lower score. Ties between cuts go to the highest threshold.
    """
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(proba, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true {y.shape} and proba {p.shape} must be 1-D and the same length")
    if len(y) == 0:
        raise ValueError("cannot choose a threshold on no data")
    if not np.isfinite(p).all():
        raise ValueError("scores contain NaN or inf")
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    # Candidate k: predict positive the top-k scores (k distinct-score boundaries only).
    last_of_run = np.r_[ps[1:] != ps[:-1], True]
    tp = np.cumsum(ys)[last_of_run]
    k = np.flatnonzero(last_of_run) + 1
    fp = k - tp
    pos = int(y.sum())
    neg = len(y) - pos
    fn = pos - tp
    tn = neg - fp
    # Also the "predict nothing positive" candidate.
    tp = np.r_[0, tp]
    fp = np.r_[0, fp]
    fn = np.r_[pos, fn]
    tn = np.r_[neg, tn]
    if metric not in ("f1", "accuracy", "mcc"):
        raise ValueError(f"unknown threshold metric {metric!r}: use f1, accuracy or mcc")
    score = rates_from_counts(tp, fp, fn, tn)[metric]
    best = int(np.argmax(score))
    cuts = ps[last_of_run]  # lowest score included at each candidate
    if best == 0:
        return float(np.nextafter(cuts[0], np.inf)) if len(cuts) else 0.5
    lo = cuts[best - 1]  # lowest score predicted positive
    if best == len(cuts):  # everything positive
        return float(lo)
    # midway between the lowest included score and the next lower one
    return float((lo + cuts[best]) / 2.0)


def rates_from_counts(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> dict[str, np.ndarray]:
    """F1, precision, recall, accuracy and MCC from confusion counts (arrays broadcast).

    Undefined ratios (0/0) are 0, as scikit-learn's `zero_division` default does.
    """
    tp, fp, fn, tn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        accuracy = np.where(n > 0, (tp + tn) / n, np.nan)
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
    return {"f1": f1, "precision": precision, "recall": recall, "accuracy": accuracy, "mcc": mcc}
