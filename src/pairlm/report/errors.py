"""Error analysis from the store's pooled out-of-fold predictions.

The texts come from the store's `pairs` table: the runner writes the texts of each prepared
(subsampled) dataset once, keyed by its split key and position, which is exactly what the
predictions' `idx` refers to. That keeps the report independent of where the data lived when
the experiment ran (a registered name may resolve to another file later, a path may move) and
exact under subsampling. Runs made without the texts (e.g. by `pairlm cv` before the texts
were recorded) get the bucket analysis and error lists only when `texts` are passed in.

- `confident_errors`: the false positives with the highest P(match) and the false negatives
  with the lowest, with their texts;
- `bucket_table`: F1, precision, recall and accuracy per bucket of pair length (words in
  both texts, quantile buckets shared by every run on the same pairs) or word overlap
  (Jaccard of the two texts' word sets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from pairlm.evaluation.store import ResultStore, RunInfo

_WORD = re.compile(r"\w+", re.UNICODE)
OVERLAP_EDGES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0000001)


@dataclass
class ErrorExample:
    pair_id: str
    text_a: str
    text_b: str
    label: int
    proba: float
    threshold: float
    fold: int


@dataclass
class BucketRow:
    bucket: str
    n: int
    positives: int
    f1: float
    precision: float
    recall: float
    accuracy: float


def words(text: str) -> list[str]:
    return _WORD.findall(str(text).lower())


def pair_lengths(text_a: Any, text_b: Any) -> np.ndarray:
    """Words in both texts of each pair."""
    return np.asarray([len(words(a)) + len(words(b)) for a, b in zip(text_a, text_b)], dtype=float)


def word_overlap(text_a: Any, text_b: Any) -> np.ndarray:
    """Jaccard similarity of the word sets of the two texts of each pair."""
    out = np.empty(len(text_a), dtype=float)
    for i, (a, b) in enumerate(zip(text_a, text_b)):
        sa, sb = set(words(a)), set(words(b))
        union = len(sa | sb)
        out[i] = len(sa & sb) / union if union else 0.0
    return out


def length_edges(lengths: np.ndarray, n_buckets: int = 5) -> np.ndarray:
    """Integer bucket edges at quantiles of the pair lengths (distinct, covering all)."""
    if len(lengths) == 0:
        return np.array([0.0, np.inf])
    qs = np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)[1:-1])
    inner = np.unique(np.ceil(qs))
    inner = inner[(inner > lengths.min())]
    return np.concatenate([[0.0], inner, [np.inf]])


def _labels_for(edges: np.ndarray, unit: str, integer: bool) -> list[str]:
    out = []
    for lo, hi in pairwise(edges):
        if integer:
            lo_i = int(lo)
            out.append(f"≥{lo_i} {unit}" if np.isinf(hi) else f"{lo_i}–{int(hi) - 1} {unit}")
        else:
            out.append(f"{lo:.1f}–{min(hi, 1.0):.1f}")
    return out


def bucket_table(
    label: np.ndarray,
    pred: np.ndarray,
    values: np.ndarray,
    edges: np.ndarray,
    names: list[str],
) -> list[BucketRow]:
    """Scores of 0/1 predictions `pred` within each bucket [edges[i], edges[i+1])."""
    from pairlm.evaluation.metrics import confusion_counts, rates_from_counts

    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for k, name in enumerate(names):
        sel = b == k
        n = int(sel.sum())
        if n == 0:
            rows.append(BucketRow(name, 0, 0, np.nan, np.nan, np.nan, np.nan))
            continue
        tp, fp, fn, tn = confusion_counts(label[sel], pred[sel].astype(bool))
        r = rates_from_counts(tp, fp, fn, tn)  # type: ignore[arg-type]
        rows.append(
            BucketRow(
                name,
                n,
                int(tp + fn),
                float(r["f1"]),
                float(r["precision"]),
                float(r["recall"]),
                float(r["accuracy"]),
            )
        )
    return rows


def _examples(
    p: dict[str, np.ndarray], sel: np.ndarray, texts: dict[str, np.ndarray], pos: dict[int, int]
) -> list[ErrorExample]:
    out = []
    for j in sel:
        t = pos.get(int(p["idx"][j]))
        a = str(texts["text_a"][t]) if t is not None else ""
        b = str(texts["text_b"][t]) if t is not None else ""
        out.append(
            ErrorExample(
                str(p["pair_id"][j]),
                a,
                b,
                int(p["label"][j]),
                float(p["proba"][j]),
                float(p["threshold"][j]),
                int(p["fold"][j]),
            )
        )
    return out


@dataclass
class RunErrors:
    """Error analysis of one run."""

    run: str
    false_positives: list[ErrorExample]
    false_negatives: list[ErrorExample]
    by_length: list[BucketRow]
    by_overlap: list[BucketRow]
    has_texts: bool


def analyse_runs(store: ResultStore, runs: list[RunInfo], k: int = 8) -> dict[str, RunErrors]:
    """Error analysis of runs scored on the same pairs (one split key): length buckets are
    the quantiles of all those pairs, so every run is cut the same way."""
    if not runs:
        return {}
    keys = {r.split_key for r in runs}
    if len(keys) != 1:
        raise ValueError(f"runs span several split keys: {sorted(keys)}")
    texts = store.all_pair_texts(next(iter(keys)))
    has_texts = len(texts["idx"]) > 0
    pos = {int(i): j for j, i in enumerate(texts["idx"])}
    if has_texts:
        all_len = pair_lengths(texts["text_a"], texts["text_b"])
        all_ovl = word_overlap(texts["text_a"], texts["text_b"])
        l_edges = length_edges(all_len)
        l_names = _labels_for(l_edges, "words", True)
        o_edges = np.asarray(OVERLAP_EDGES)
        o_names = _labels_for(o_edges, "", False)
    out: dict[str, RunErrors] = {}
    for run in runs:
        p = store.predictions(run.run_id)
        if len(p["idx"]) == 0:
            continue
        label, proba, thr = p["label"], p["proba"], p["threshold"]
        pred = (proba >= thr).astype(np.int64)
        fp = np.flatnonzero((pred == 1) & (label == 0))
        fn = np.flatnonzero((pred == 0) & (label == 1))
        fp = fp[np.argsort(-proba[fp], kind="stable")][:k]
        fn = fn[np.argsort(proba[fn], kind="stable")][:k]

        by_len: list[BucketRow] = []
        by_ovl: list[BucketRow] = []
        if has_texts:
            rows = np.asarray([pos.get(int(i), -1) for i in p["idx"]])
            ok = rows >= 0
            by_len = bucket_table(label[ok], pred[ok], all_len[rows[ok]], l_edges, l_names)
            by_ovl = bucket_table(label[ok], pred[ok], all_ovl[rows[ok]], o_edges, o_names)
        out[run.name] = RunErrors(
            run.name,
            _examples(p, fp, texts, pos),
            _examples(p, fn, texts, pos),
            by_len,
            by_ovl,
            has_texts,
        )
    return out
