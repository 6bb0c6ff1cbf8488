"""Learning curves: the runs of one family with one config on one dataset that differ only in
their training size (`max_train` / `subsample`), and a log-linear fit of F1 on size.

The fit (least squares of mean F1 on log2 of the training pairs per fold) gives the F1 gained
per doubling of the training data and an extrapolation to a larger size, by default the
paper's 90,000 training pairs per fold (100,000 QQP pairs, 10 folds). It is a rough guide: a
learning curve flattens as it nears its ceiling, so a straight line in log-size overstates the
gain far beyond the measured sizes. The report and `summary.json` label it as such, and a
series is only extrapolated from at least three measured sizes (a line through two points
says nothing about the curve's shape).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pairlm.evaluation.store import ResultStore, RunInfo
from pairlm.report.plots import CurvePoint
from pairlm.report.readme import curves_table
from pairlm.report.tables import RunSummary, json_number, summarize

# The paper's training pairs per fold: 100,000 QQP pairs under 10-fold CV.
PAPER_TRAIN_PAIRS = 90_000
# Fewest distinct training sizes a series needs before the report carries its line further.
MIN_SIZES_TO_EXTRAPOLATE = 3


@dataclass
class CurveFit:
    """F1 ≈ intercept + per_doubling · log2(n_train), fitted on a series' points."""

    per_doubling: float
    intercept: float

    def predict(self, n_train: float) -> float:
        return self.intercept + self.per_doubling * math.log2(n_train)


def series(
    summaries: Iterable[RunSummary], runs: dict[str, RunInfo], transfer_ids: set[int]
) -> dict[str, list[CurvePoint]]:
    """Learning-curve series by label: runs grouped by (family, config, dataset), kept where a
    group holds at least two training sizes; transfer runs (scored elsewhere) are left out."""
    groups: dict[tuple[str, str, str], list[RunSummary]] = defaultdict(list)
    for s in summaries:
        r = runs[s.name]
        if r.run_id in transfer_ids:
            continue
        groups[(r.family, json.dumps(r.config, sort_keys=True), r.dataset)].append(s)
    out: dict[str, list[CurvePoint]] = {}
    for (family, cfg, dataset), members in groups.items():
        sizes = {round(s.n_train) for s in members}
        if len(sizes) < 2:
            continue
        label = f"{family} on {dataset.rstrip('/').split('/')[-1]}"
        if label in out or any(k[0] == family and k[1] != cfg and k[2] == dataset for k in groups):
            label += f" ({', '.join(sorted(s.name for s in members))[:40]})"
        out[label] = sorted(
            (CurvePoint(s.n_train, s.means["f1"], s.f1_ci, s.name) for s in members),
            key=lambda p: p.n_train,
        )
    return out


def fit(points: list[CurvePoint]) -> CurveFit | None:
    """The log-linear fit of a series (None with fewer than two distinct sizes)."""
    x = np.log2([p.n_train for p in points])
    y = np.array([p.f1 for p in points], dtype=float)
    if len(set(np.round(x, 6))) < 2 or np.isnan(y).any():
        return None
    slope, intercept = np.polyfit(x, y, 1)
    return CurveFit(float(slope), float(intercept))


def summary_entries(
    curves: dict[str, list[CurvePoint]],
    folds: dict[str, tuple[int, int]],
    target: int = PAPER_TRAIN_PAIRS,
) -> list[dict[str, Any]]:
    """`summary.json`'s `learning_curves`: each series' points (run, size, F1, CI, folds), its
    F1 gain per doubling and its log-linear extrapolation to `target` training pairs (None
    below `MIN_SIZES_TO_EXTRAPOLATE` distinct sizes)."""
    out = []
    for label, pts in curves.items():
        f = fit(pts)
        sizes = len({round(p.n_train) for p in pts})
        out.append(
            {
                "series": label,
                "points": [
                    {
                        "run": p.name,
                        "n_train_per_fold": round(p.n_train, 1),
                        "f1_mean": json_number(p.f1),
                        "f1_ci": [json_number(p.ci[0]), json_number(p.ci[1])],
                        "folds": folds[p.name][0],
                        "folds_total": folds[p.name][1],
                    }
                    for p in pts
                ],
                "f1_per_doubling": None if f is None else f.per_doubling,
                "extrapolated": None
                if f is None or sizes < MIN_SIZES_TO_EXTRAPOLATE
                else {"n_train_per_fold": target, "f1": min(1.0, f.predict(target))},
            }
        )
    return out


def from_store(store: ResultStore, target: int = PAPER_TRAIN_PAIRS) -> list[dict[str, Any]]:
    """The store's learning curves as `summary.json` entries (empty when it has none)."""
    summaries = summarize(store, None, bootstrap=0)
    runs = {r.name: r for r in store.runs()}
    found = series(summaries, runs, set(store.transfers()))
    folds = {s.name: (s.folds_done, s.folds_total) for s in summaries}
    return summary_entries(found, folds, target)


def markdown(entries: list[dict[str, Any]]) -> str:
    """The report.md section of `from_store`'s entries ("" without any)."""
    if not entries:
        return ""
    head = [
        "",
        "## Learning curves",
        "",
        "F1 (mean over the folds run, 95% CI) against training pairs per fold; the last two "
        "columns fit F1 linearly in log2(training pairs): the gain per doubling, and, for a series "
        f"measured at {MIN_SIZES_TO_EXTRAPOLATE} sizes or more, that line carried to the paper's "
        "size (a rough guide: curves flatten as they near their ceiling).",
        "",
    ]
    return "\n".join(head) + curves_table(entries) + "\n"
