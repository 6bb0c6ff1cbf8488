"""binary_metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from pairlm.evaluation.metrics import METRIC_NAMES, binary_metrics


def _data(n: int = 500, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.37).astype(int)
    p = np.clip(0.35 * y + rng.random(n) * 0.65, 0.001, 0.999)
    p = np.round(p, 2)  # ties, as real scorers produce
    return y, p


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.71, 1.0])
def test_matches_sklearn(threshold: float) -> None:
    y, p = _data()
    m = binary_metrics(y, p, threshold)
    pred = (p >= threshold).astype(int)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0), abs=1e-12)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0), abs=1e-12)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0), abs=1e-12)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-9)
    assert m["n"] == len(y) and m["positives"] == y.sum() and m["threshold"] == threshold


def test_keys_and_metric_names() -> None:
    y, p = _data(50)
    m = binary_metrics(y, p, 0.5)
    assert set(METRIC_NAMES) <= set(m)
    assert set(m) == {*METRIC_NAMES, "n", "positives", "threshold"}
    assert all(isinstance(v, float) for v in m.values())


def test_threshold_rule_is_greater_or_equal() -> None:
    m = binary_metrics([1, 0], [0.5, 0.49], 0.5)
    assert m["f1"] == 1.0 and m["accuracy"] == 1.0


def test_one_class_gives_nan_auc_not_error() -> None:
    m = binary_metrics([0, 0, 0], [0.1, 0.7, 0.2], 0.5)
    assert math.isnan(m["roc_auc"]) and math.isnan(m["average_precision"])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["f1"] == 0.0 and m["precision"] == 0.0 and m["mcc"] == 0.0
    m = binary_metrics([1, 1], [0.9, 0.8], 0.5)
    assert math.isnan(m["roc_auc"]) and m["f1"] == 1.0


def test_log_loss_clipped() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.0, 1.0, 1.0, 0.0])  # two certain mistakes, two certain hits
    expected = -(2 * math.log(1e-7) + 2 * math.log1p(-1e-7)) / 4
    assert binary_metrics(y, p, 0.5)["log_loss"] == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(binary_metrics(y, p, 0.5)["log_loss"])


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1], [0.2], "same length"),
        ([[0, 1]], [[0.2, 0.3]], "1-D"),
        ([], [], "no data"),
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([0, -1], [0.1, 0.2], "missing label"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([0, 1], [0.1, 1.5], r"\[0, 1\]"),
        ([0.0, float("nan")], [0.1, 0.2], "NaN"),
    ],
)
def test_bad_input(y: list, p: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        binary_metrics(y, p, 0.5)


def test_bad_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        binary_metrics([0, 1], [0.1, 0.9], float("nan"))
