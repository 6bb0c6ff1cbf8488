"""Retrieve-then-rerank: embedding top-k, then any saved `PairClassifier` gives P(duplicate)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import PairClassifier
from pairlm.models.registry import load_model

if TYPE_CHECKING:
    from pairlm.search.index import CorpusIndex, Hit

log = logging.getLogger(__name__)


class Reranker:
    """Wraps a fitted `PairClassifier` (or the directory of a saved one) to score text pairs.

    `threshold` defaults to the model's learned `threshold_`.
    """

    def __init__(
        self,
        model: PairClassifier | str | Path,
        threshold: float | None = None,
        batch_size: int = 256,
    ) -> None:
        if isinstance(model, (str, Path)):
            self.path: str | None = str(model)
            model = load_model(model)
        else:
            self.path = None
        if not isinstance(model, PairClassifier):
            raise TypeError(f"reranker must be a PairClassifier, got {type(model).__name__}")
        model.check_fitted()
        self.model = model
        self.threshold = float(model.threshold_ if threshold is None else threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        self.batch_size = int(batch_size)

    @property
    def family(self) -> str:
        return self.model.family

    def score(self, text_a: Sequence[str], text_b: Sequence[str]) -> np.ndarray:
        """P(duplicate) for each (text_a[i], text_b[i]), shape (n,)."""
        if len(text_a) != len(text_b):
            raise ValueError(f"{len(text_a)} first texts but {len(text_b)} second texts")
        if len(text_a) == 0:
            return np.zeros(0, dtype=np.float64)
        out = []
        for s in range(0, len(text_a), self.batch_size):
            ds = PairDataset.from_pairs(
                list(text_a[s : s + self.batch_size]), list(text_b[s : s + self.batch_size])
            )
            out.append(np.asarray(self.model.predict_proba(ds), dtype=np.float64))
        return np.clip(np.concatenate(out), 0.0, 1.0)


class Scored(Protocol):
    """Anything the rerank step can order: it carries a P(duplicate)."""

    probability: float | None


S = TypeVar("S", bound=Scored)


def rerank(
    reranker: Reranker,
    items: Sequence[S],
    text_a: Sequence[str],
    text_b: Sequence[str],
    *,
    threshold: float | None = None,
    keep_below: bool = False,
    tiebreak: Callable[[S], float] | None = None,
) -> list[S]:
    """The rerank step, written once (search hits, mined pairs, matches; the service's too):
    P(duplicate) of each item's pair (`text_a[i]`, `text_b[i]`) set as its `probability`,
    then the items best first (a stable sort; equal probabilities by `tiebreak`, higher
    first), those under `threshold` (default: the reranker's) left out unless `keep_below`."""
    if not items:
        return []
    p = reranker.score(text_a, text_b)
    for item, pi in zip(items, p):
        item.probability = float(pi)
    thr = reranker.threshold if threshold is None else threshold
    if tiebreak is None:
        ranked = sorted(items, key=lambda it: -(it.probability or 0.0))
    else:
        tb = tiebreak
        ranked = sorted(items, key=lambda it: (-(it.probability or 0.0), -tb(it)))
    return ranked if keep_below else [it for it in ranked if (it.probability or 0.0) >= thr]


def rerank_hits(
    reranker: Reranker,
    query: str,
    hits: list[Hit],
    *,
    threshold: float | None = None,
    keep_below: bool = False,
) -> list[Hit]:
    """Set `probability` on each hit, sort by it (equal ones by embedding score), and keep
    those at or above the threshold (`rerank`)."""
    return rerank(
        reranker,
        hits,
        [query] * len(hits),
        [h.text for h in hits],
        threshold=threshold,
        keep_below=keep_below,
        tiebreak=lambda h: h.score,
    )


def search_and_rerank(
    index: CorpusIndex,
    queries: str | Sequence[str],
    *,
    k: int = 10,
    reranker: Reranker | None = None,
    candidates: int | None = None,
    threshold: float | None = None,
    min_score: float | None = None,
    keep_below: bool = False,
) -> list[list[Hit]]:
    """Top `candidates` (default `k`, or 3·k with a reranker) by embedding; with a reranker,
    keep those whose P(duplicate) ≥ `threshold` (default: the reranker's), best first; at most
    `k` per query. `keep_below`: keep the hits under the threshold too (then each query gets
    ``min(k, documents)`` hits). `min_score` drops embedding hits below a cosine similarity."""
    qs = [queries] if isinstance(queries, str) else list(queries)
    n_cand = candidates or (3 * k if reranker is not None else k)
    results = index.search(qs, max(n_cand, k))
    out = []
    for q, hits in zip(qs, results):
        if min_score is not None:
            hits = [h for h in hits if h.score >= min_score]
        if reranker is not None:
            hits = rerank_hits(reranker, q, hits, threshold=threshold, keep_below=keep_below)
        out.append(hits[:k])
    return out
