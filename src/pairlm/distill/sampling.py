"""Silver pairs: new pairs of the training texts for a teacher to label (Augmented SBERT).

Three samplers, each drawing from the distinct texts of the training pairs only:

- ``neighbours``: pairs among each text's nearest neighbours by a sentence encoder's cosine
  similarity (`pairlm.search.mining.candidate_pairs`: exact FAISS search, IVF on large
  sets); the smallest `k` that gives enough pairs, the pairs drawn uniformly from those;
- ``bm25``: the same with each text's BM25 neighbours (the `bm25s` package; pairs sharing
  no term are never drawn);
- ``random``: uniform pairs of distinct texts.

No sampler returns a pair of `exclude` (the gold pairs and any held-out pairs, keyed in
either order by `pair_key`) nor a text paired with itself (texts are compared in their
normal form, `normalize_text_fast`, so "How?" and "how?" are one text), and no pair twice,
also across samplers (the earlier sampler in `SAMPLERS` order keeps it). Every draw is a
function of (texts, counts, seed): same inputs, same pairs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairlm.data.pairs import PairDataset, normalize_text_fast

log = logging.getLogger(__name__)

SAMPLERS = ("neighbours", "bm25", "random")
"""The samplers, in the order they draw (a pair two samplers find counts for the first)."""

PairKey = tuple[str, str]


def pair_key(a: str, b: str) -> PairKey:
    """The key of a pair in either order: its two texts' normal forms, sorted."""
    x, y = normalize_text_fast(str(a)), normalize_text_fast(str(b))
    return (x, y) if x <= y else (y, x)


def pair_keys(pairs: PairDataset | None) -> set[PairKey]:
    """`pair_key` of every pair of `pairs` (empty for None)."""
    if pairs is None:
        return set()
    return {pair_key(a, b) for a, b in zip(pairs.text_a, pairs.text_b)}


def distinct_texts(pairs: PairDataset) -> list[str]:
    """The texts of `pairs` (both sides), one per normal form, in first-seen order."""
    seen: dict[str, str] = {}
    for t in (*pairs.text_a, *pairs.text_b):
        seen.setdefault(normalize_text_fast(str(t)), str(t))
    return list(seen.values())


@dataclass
class SilverPairs:
    """Sampled pairs of training texts (indices into `texts`) and the sampler of each."""

    texts: list[str]
    i: np.ndarray
    j: np.ndarray
    sampler: np.ndarray
    wanted: dict[str, int] = field(default_factory=dict)
    """Pairs asked of each sampler (it may find fewer: `counts` says how many it gave)."""

    def __len__(self) -> int:
        return len(self.i)

    @property
    def text_a(self) -> list[str]:
        return [self.texts[k] for k in self.i]

    @property
    def text_b(self) -> list[str]:
        return [self.texts[k] for k in self.j]

    def counts(self) -> dict[str, int]:
        return {s: int((self.sampler == s).sum()) for s in self.wanted}

    def take(self, mask: np.ndarray) -> SilverPairs:
        return SilverPairs(self.texts, self.i[mask], self.j[mask], self.sampler[mask], self.wanted)


class _Taken:
    """Pairs no sampler may draw again: the excluded keys, then each pair drawn."""

    def __init__(self, texts: Sequence[str], exclude: set[PairKey]) -> None:
        self.norm = [normalize_text_fast(t) for t in texts]
        self.index = {t: k for k, t in enumerate(self.norm)}
        self.codes: set[int] = set()
        n = len(texts)
        self.n = n
        for a, b in exclude:
            ia, ib = self.index.get(a), self.index.get(b)
            if ia is not None and ib is not None:
                self.codes.add(self.code(ia, ib))

    def code(self, i: int, j: int) -> int:
        lo, hi = (i, j) if i <= j else (j, i)
        return lo * self.n + hi

    def fresh(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Mask of the candidate pairs (i, j) that are neither self-pairs nor taken, the
        first of each repeated pair kept."""
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        codes = lo.astype(np.int64) * self.n + hi
        _, first = np.unique(codes, return_index=True)
        keep = np.zeros(len(codes), dtype=bool)
        keep[first] = True
        keep &= lo != hi
        if self.codes:
            keep &= ~np.isin(codes, np.fromiter(self.codes, np.int64, len(self.codes)))
        return keep

    def add(self, i: np.ndarray, j: np.ndarray) -> None:
        self.codes.update(int(self.code(int(a), int(b))) for a, b in zip(i, j))


def _draw(
    cand_i: np.ndarray, cand_j: np.ndarray, count: int, taken: _Taken, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    keep = taken.fresh(cand_i, cand_j)
    ci, cj = cand_i[keep], cand_j[keep]
    if len(ci) > count:
        pick = np.sort(rng.choice(len(ci), size=count, replace=False))
        ci, cj = ci[pick], cj[pick]
    order = rng.permutation(len(ci))  # a random order: a prefix is a uniform subsample
    return ci[order], cj[order]


def _growing_k(
    n: int, count: int, neighbours: Callable[[int], tuple[np.ndarray, np.ndarray]], taken: _Taken
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs of the smallest k (doubling from about 2·count/n) that yields
    `count` fresh pairs, or of every k up to n - 1."""
    k = max(1, math.ceil(2.5 * count / max(n, 1)))
    while True:
        k = min(k, n - 1)
        ci, cj = neighbours(k)
        if int(taken.fresh(ci, cj).sum()) >= count or k >= n - 1:
            return ci, cj
        k *= 2


def random_pairs(
    n: int, count: int, taken: _Taken, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` uniform pairs of distinct texts among `n` (fewer when fewer are left); each
    pair drawn is added to `taken`."""
    free = n * (n - 1) // 2 - len(taken.codes)
    count = max(0, min(count, free))
    if count * 4 > free and n <= 4000:  # most of the pairs: draw from all of them
        iu, ju = np.triu_indices(n, 1)
        return _draw(iu.astype(np.int64), ju.astype(np.int64), count, taken, rng)
    got_i: list[np.ndarray] = []
    got_j: list[np.ndarray] = []
    have = 0
    for _ in range(100):  # rejection sampling; a nearly full set of pairs gives up short
        if have >= count:
            break
        m = max(16, 2 * (count - have))
        i, j = rng.integers(0, n, m), rng.integers(0, n, m)
        keep = taken.fresh(i, j)
        i, j = i[keep][: count - have], j[keep][: count - have]
        taken.add(i, j)
        got_i.append(i)
        got_j.append(j)
        have += len(i)
    return _cat(got_i, np.int64), _cat(got_j, np.int64)


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def neighbour_pairs(
    embeddings: np.ndarray, count: int, taken: _Taken, rng: np.random.Generator, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`count` pairs drawn uniformly among each text's k nearest neighbours by cosine
    similarity of `embeddings` (L2-normalised rows), k the smallest that gives enough."""
    from pairlm.search.mining import candidate_pairs

    n = len(embeddings)
    if n < 2 or count < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def knn(k: int) -> tuple[np.ndarray, np.ndarray]:
        a, b, _ = candidate_pairs(embeddings, k=k, floor=-2.0, seed=seed, show_progress=False)
        return a, b

    ci, cj = _growing_k(n, count, knn, taken)
    return _draw(ci, cj, count, taken, rng)


def bm25_pairs(
    texts: Sequence[str], count: int, taken: _Taken, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` pairs drawn uniformly among each text's k best BM25 matches (English stop
    words removed; matches sharing no term are never drawn), k the smallest that gives
    enough."""
    try:
        import bm25s
    except ImportError:
        from pairlm.errors import ConfigError

        raise ConfigError(
            "the bm25 sampler needs the bm25s package: pip install 'pairlm[distill]'"
        ) from None
    n = len(texts)
    if n < 2 or count < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tokens = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)

    def knn(k: int) -> tuple[np.ndarray, np.ndarray]:
        docs, scores = retriever.retrieve(tokens, k=min(k + 1, n), show_progress=False)
        rows = np.repeat(np.arange(n), docs.shape[1])
        cols, sc = docs.ravel().astype(np.int64), scores.ravel()
        m = sc > 0
        return rows[m], cols[m]

    ci, cj = _growing_k(n, count, knn, taken)
    return _draw(ci, cj, count, taken, rng)


def sample_silver(
    texts: Sequence[str],
    counts: dict[str, int],
    exclude: Iterable[PairKey],
    *,
    seed: int = 0,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> SilverPairs:
    """Silver pairs of `texts` (distinct: `distinct_texts`): `counts[s]` from each sampler
    `s` of `SAMPLERS`, none in `exclude` (`pair_key`s), no self-pair, no pair twice.
    `embed` gives the neighbours sampler its L2-normalised embeddings (needed only for it)."""
    unknown = sorted(set(counts) - set(SAMPLERS))
    if unknown:
        raise ValueError(f"unknown sampler(s) {', '.join(unknown)}; known: {', '.join(SAMPLERS)}")
    texts = list(texts)
    taken = _Taken(texts, set(exclude))
    parts_i, parts_j, parts_s = [], [], []
    for k, name in enumerate(SAMPLERS):
        count = int(counts.get(name, 0))
        if count <= 0:
            continue
        rng = np.random.default_rng([seed, k])
        if name == "random":
            i, j = random_pairs(len(texts), count, taken, rng)
        elif name == "bm25":
            i, j = bm25_pairs(texts, count, taken, rng)
        else:
            if embed is None:
                raise ValueError("the neighbours sampler needs `embed` (a sentence encoder)")
            i, j = neighbour_pairs(embed(texts), count, taken, rng, seed)
        if len(i) < count:
            log.warning(
                "distill: the %s sampler found %d of the %d pairs asked", name, len(i), count
            )
        taken.add(i, j)
        parts_i.append(i)
        parts_j.append(j)
        parts_s.append(np.full(len(i), name, dtype=object))
    return SilverPairs(
        texts,
        _cat(parts_i, np.int64),
        _cat(parts_j, np.int64),
        _cat(parts_s, object),
        {s: int(counts.get(s, 0)) for s in SAMPLERS if counts.get(s, 0)},
    )
