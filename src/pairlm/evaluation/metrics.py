"""Per-fold metrics of a binary pair classifier.

`binary_metrics` scores probabilities `proba` against 0/1 labels at a decision threshold
chosen elsewhere (on validation data only): a pair is predicted a match when
`proba >= threshold`. F1, precision and recall are those of the positive (match) class.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pairlm.models.thresholds import rates_from_counts as rates_from_counts

METRIC_NAMES: tuple[str, ...] = (
    "f1",
    "precision",
    "recall",
    "accuracy",
    "roc_auc",
    "average_precision",
    "mcc",
    "log_loss",
)
"""The metrics reported per fold (the keys of `binary_metrics` that are scores)."""

LOG_LOSS_EPS = 1e-7
"""Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] for the log-loss."""


def check_labels_scores(
    y_true: Any, proba: Any, *, what: str = "proba"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate 0/1 labels and probabilities; return them as int64 and float64 1-D arrays.

    Raises `ValueError` naming the problem: shapes differ or are not 1-D, no data, a label
    other than 0/1 (e.g. -1 for a missing label), a NaN/inf score, or a score outside [0, 1].
    """
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1 or y.shape != p.shape:
        raise ValueError(
            f"y_true {y.shape} and {what} {p.shape} must be 1-D arrays of the same length"
        )
    if len(y) == 0:
        raise ValueError("cannot compute metrics on no data (0 pairs)")
    y = check_binary(y, "y_true")
    bad = ~np.isfinite(p)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} has {int(bad.sum())} NaN/inf value(s), first at index {i}")
    out = (p < 0.0) | (p > 1.0)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"{what} must be probabilities in [0, 1]; index {i} has {p[i]!r} "
            f"({int(out.sum())} value(s) outside)"
        )
    return y, p


def check_binary(values: np.ndarray, what: str) -> np.ndarray:
    """`values` as int64 if every entry is 0 or 1, else ValueError."""
    v = np.asarray(values)
    if v.dtype == bool:
        return v.astype(np.int64)
    if v.dtype.kind == "f" and np.isnan(v).any():
        raise ValueError(f"{what} contains NaN")
    bad = ~np.isin(v, (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what} must contain only 0 and 1; index {i} has {v[i]!r} "
            f"({int(bad.sum())} bad value(s); -1 marks a missing label)"
        )
    return v.astype(np.int64)


def _check_threshold(threshold: Any) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError) as e:
        raise ValueError(f"threshold must be a number, got {threshold!r}") from e
    if math.isnan(t):
        raise ValueError("threshold is NaN")
    return t


def confusion_counts(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of 0/1 arrays."""
    tp = int(np.count_nonzero(pred & (y == 1)))
    fp = int(np.count_nonzero(pred & (y == 0)))
    fn = int(np.count_nonzero(~pred & (y == 1)))
    tn = len(y) - tp - fp - fn
    return tp, fp, fn, tn


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy with probabilities clipped to [1e-7, 1 - 1e-7]."""
    q = np.clip(np.asarray(p, dtype=np.float64), LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    y = np.asarray(y)
    return float(-np.mean(np.where(y == 1, np.log(q), np.log1p(-q))))


def binary_metrics(y_true: Any, proba: Any, threshold: float) -> dict[str, float]:
    """Every per-fold metric of probabilities `proba` against 0/1 labels `y_true`.

    A pair is predicted positive when `proba >= threshold`. Returns a dict with the keys of
    `METRIC_NAMES` plus `n` (pairs), `positives` (pairs labelled 1) and `threshold`.
    ROC-AUC and average precision are NaN (not an error) when `y_true` has one class only;
    undefined precision/recall/F1/MCC (0/0) are 0. Raises `ValueError` on bad input.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = check_labels_scores(y_true, proba)
    t = _check_threshold(threshold)
    pred = p >= t
    tp, fp, fn, tn = confusion_counts(y, pred)
    rates = rates_from_counts(tp, fp, fn, tn)  # type: ignore[arg-type]
    two_classes = 0 < tp + fn < len(y)
    out: dict[str, float] = {k: float(v) for k, v in rates.items()}
    out["roc_auc"] = float(roc_auc_score(y, p)) if two_classes else math.nan
    out["average_precision"] = float(average_precision_score(y, p)) if two_classes else math.nan
    out["log_loss"] = log_loss(y, p)
    out["n"] = float(len(y))
    out["positives"] = float(tp + fn)
    out["threshold"] = t
    return {k: out[k] for k in (*METRIC_NAMES, "n", "positives", "threshold")}
