"""The report's figures (matplotlib, Agg; no pyplot state, so safe in any process).

Every function takes plain data (summaries, arrays) and returns a `matplotlib.figure.Figure`;
`to_png` renders one to PNG bytes for inlining.

- `f1_per_method`: mean F1 per run with its 95% CI and every fold's F1;
- `pr_curves`: precision-recall curves of pooled out-of-fold predictions, with each run's
  operating point (its per-fold thresholds applied);
- `reliability_diagram`: observed match rate against predicted probability (10 bins), with
  the expected calibration error, and the histogram of predictions;
- `learning_curve`: F1 against training-set size for runs that differ only in `max_train` /
  `subsample`;
- `bucket_f1`: F1 per pair-length or word-overlap bucket for several runs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

_COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
]


def color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


@dataclass
class Pooled:
    """Pooled out-of-fold predictions of one run."""

    name: str
    label: np.ndarray
    proba: np.ndarray
    threshold: np.ndarray

    @property
    def pred(self) -> np.ndarray:
        return (self.proba >= self.threshold).astype(np.int64)


def f1_per_method(summaries: Sequence[Any], title: str = "F1 per method") -> Figure:
    """Mean F1 (dot), 95% t-interval over folds (bar) and each fold's F1 (small points)."""
    runs = sorted(summaries, key=lambda s: s.means["f1"])
    fig = Figure(figsize=(7.5, 0.55 * len(runs) + 1.4))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for i, s in enumerate(runs):
        folds = np.asarray(s.fold_f1, dtype=float)
        ax.scatter(
            folds,
            i + rng.uniform(-0.15, 0.15, len(folds)),
            s=12,
            color="#888888",
            alpha=0.7,
            zorder=2,
            label="fold" if i == 0 else None,
        )
        lo, hi = s.f1_ci
        mean = s.means["f1"]
        if not (math.isnan(lo) or math.isnan(hi)):
            ax.errorbar(
                mean,
                i,
                xerr=[[mean - lo], [hi - mean]],
                fmt="o",
                color=color(0),
                capsize=4,
                zorder=3,
                label="mean, 95% CI" if i == 0 else None,
            )
        else:
            ax.plot(mean, i, "o", color=color(0), zorder=3)
        ax.annotate(
            f"{mean:.3f}",
            (mean, i),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(runs)), [s.name for s in runs])
    ax.set_xlabel("F1 (match class)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_ylim(-0.7, len(runs) - 0.3)
    return fig


def pr_curves(
    pooled: Sequence[Pooled], title: str = "Precision-recall (pooled out-of-fold)"
) -> Figure:
    """One precision-recall curve per run; a marker at its operating point."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig = Figure(figsize=(6.5, 5.2))
    ax = fig.add_subplot()
    base = None
    for i, p in enumerate(pooled):
        if len(np.unique(p.label)) < 2:
            continue
        prec, rec, _ = precision_recall_curve(p.label, p.proba)
        ap = average_precision_score(p.label, p.proba)
        ax.plot(rec, prec, color=color(i), lw=1.6, label=f"{p.name} (AP {ap:.3f})")
        pred = p.pred
        tp = int(((pred == 1) & (p.label == 1)).sum())
        op_p = tp / max(1, int(pred.sum()))
        op_r = tp / max(1, int(p.label.sum()))
        ax.plot(op_r, op_p, "o", color=color(i), ms=7, mec="black")
        base = float(p.label.mean())
    if base is not None:
        ax.axhline(base, color="#999999", ls=":", lw=1, label=f"match rate {base:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # Beside the axes, never over the curves (they crowd the lower left at high recall).
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def calibration_bins(
    label: np.ndarray, proba: np.ndarray, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Equal-width bins of predicted probability: mean prediction, observed rate, count."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.digitize(proba, edges[1:-1], right=False), 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=proba, minlength=n_bins) / count
        rate = np.bincount(b, weights=label.astype(float), minlength=n_bins) / count
    return {"edges": edges, "mean_proba": mean_p, "rate": rate, "count": count}


def expected_calibration_error(label: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> float:
    """Sum over bins of (share of pairs) x |observed rate - mean prediction|."""
    c = calibration_bins(label, proba, n_bins)
    ok = c["count"] > 0
    w = c["count"][ok] / c["count"].sum()
    return float(np.sum(w * np.abs(c["rate"][ok] - c["mean_proba"][ok])))


def reliability_diagram(
    pooled: Sequence[Pooled], n_bins: int = 10, title: str = "Reliability (calibration)"
) -> Figure:
    """Observed match rate per bin of predicted P(match) against the diagonal, and below it
    how the predictions are spread."""
    fig = Figure(figsize=(6.5, 6.4))
    gs = fig.add_gridspec(2, 1, height_ratios=[3, 1.2], hspace=0.08)
    ax = fig.add_subplot(gs[0])
    hx = fig.add_subplot(gs[1], sharex=ax)
    ax.plot([0, 1], [0, 1], color="#999999", ls="--", lw=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, n_bins + 1)
    for i, p in enumerate(pooled):
        if len(p.label) == 0:
            continue
        c = calibration_bins(p.label, p.proba, n_bins)
        ok = c["count"] > 0
        ece = expected_calibration_error(p.label, p.proba, n_bins)
        ax.plot(
            c["mean_proba"][ok],
            c["rate"][ok],
            "o-",
            color=color(i),
            ms=4,
            label=f"{p.name} (ECE {ece:.3f})",
        )
        hx.hist(p.proba, bins=list(edges), histtype="step", color=color(i), lw=1.4)
    ax.set_ylabel("observed match rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.tick_params(labelbottom=False)
    hx.set_xlabel("predicted P(match)")
    hx.set_ylabel("pairs")
    hx.grid(alpha=0.3)
    return fig


@dataclass
class CurvePoint:
    n_train: float
    f1: float
    ci: tuple[float, float]
    name: str


def learning_curve(
    series: Mapping[str, Sequence[CurvePoint]], title: str = "F1 against training-set size"
) -> Figure:
    """One line per method: mean F1 (95% CI) at each training-set size."""
    fig = Figure(figsize=(6.5, 4.6))
    ax = fig.add_subplot()
    for i, (label, pts) in enumerate(series.items()):
        pts = sorted(pts, key=lambda p: p.n_train)
        x = np.array([p.n_train for p in pts])
        y = np.array([p.f1 for p in pts])
        lo = np.array([p.ci[0] for p in pts])
        hi = np.array([p.ci[1] for p in pts])
        ax.plot(x, y, "o-", color=color(i), label=label)
        ok = ~(np.isnan(lo) | np.isnan(hi))
        if ok.any():
            ax.fill_between(x[ok], lo[ok], hi[ok], color=color(i), alpha=0.18)
    ax.set_xscale("log")
    ax.set_xlabel("training pairs per fold")
    ax.set_ylabel("F1 (mean over folds, 95% CI)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def bucket_f1(
    buckets: Sequence[str],
    f1_by_run: Mapping[str, Sequence[float]],
    counts: Sequence[int],
    title: str,
    xlabel: str,
) -> Figure:
    """F1 per bucket for each run (lines), the number of pairs per bucket (bars, right axis)."""
    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(buckets))
    ax2 = ax.twinx()
    ax2.bar(x, counts, color="#dddddd", width=0.6, zorder=0)
    ax2.set_ylabel("pairs", color="#888888")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    for i, (name, vals) in enumerate(f1_by_run.items()):
        ax.plot(x, vals, "o-", color=color(i), label=name)
    ax.set_xticks(x, list(buckets), rotation=20, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="lower right")
    return fig
