"""All duplicate pairs in a corpus, without scoring the n² pairs.

1. candidates: each text's `k` nearest neighbours by cosine similarity, from an exact flat
   FAISS search below `exact_below` texts, else from an IVF-flat index built for the run
   (``nlist ≈ 4·√n`` clusters trained by 10 k-means rounds on 20 points per cluster,
   ``nprobe`` probed): O(n·(nlist + n·nprobe/nlist)) similarity
   computations instead of n²;
2. keep the pairs (i < j, each once) with similarity ≥ `floor`;
3. optionally, a reranker (any saved `PairClassifier`) gives each kept pair P(duplicate);
   pairs below its threshold are dropped.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pairlm.progress import progress

if TYPE_CHECKING:
    from pairlm.search.index import CorpusIndex
    from pairlm.search.rerank import Reranker

log = logging.getLogger(__name__)


@dataclass
class MinedPair:
    """A candidate duplicate pair."""

    id_a: str
    id_b: str
    text_a: str
    text_b: str
    similarity: float
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_pairs(
    embeddings: np.ndarray,
    *,
    k: int = 50,
    floor: float = 0.8,
    exact_below: int = 20_000,
    nprobe: int = 16,
    nlist: int | None = None,
    seed: int = 0,
    chunk: int = 20_000,
    show_progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j, similarity) with i < j and similarity ≥ `floor` among each row's `k`
    nearest neighbours; `embeddings` are L2-normalised float32 rows. Sorted by similarity,
    highest first."""
    import faiss

    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    n, d = x.shape
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    kk = min(k + 1, n)
    if n < exact_below:
        index: Any = faiss.IndexFlatIP(d)
        index.add(x)
    else:
        nl = nlist or max(16, int(4 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nl, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        train = x[rng.choice(n, size=min(n, nl * 20), replace=False)]
        index.cp.seed = seed
        index.cp.niter = 10  # k-means on 20 points per list, 10 rounds: enough for ANN lists
        index.train(train)
        index.add(x)
        index.nprobe = min(nprobe, nl)
    parts_i, parts_j, parts_s = [], [], []
    rng_chunks = range(0, n, chunk)
    if show_progress is not False and n > chunk:
        rng_chunks = progress(rng_chunks, desc="mining", unit="chunk", enabled=show_progress)
    for s in rng_chunks:
        sims, nbrs = index.search(x[s : s + chunk], kk)
        rows = np.repeat(np.arange(s, s + len(sims)), kk)
        cols = nbrs.ravel()
        sc = sims.ravel()
        m = (cols >= 0) & (cols != rows) & (sc >= floor)
        parts_i.append(rows[m])
        parts_j.append(cols[m])
        parts_s.append(sc[m])
    i = np.concatenate(parts_i).astype(np.int64)
    j = np.concatenate(parts_j).astype(np.int64)
    sc = np.concatenate(parts_s).astype(np.float32)
    a, b = np.minimum(i, j), np.maximum(i, j)
    key = a * n + b
    key, first = np.unique(key, return_index=True)
    a, b, sc = a[first], b[first], sc[first]
    order = np.argsort(-sc, kind="stable")
    return a[order], b[order], sc[order]


def mine_pairs(
    ids: Sequence[str],
    texts: Sequence[str],
    embeddings: np.ndarray,
    *,
    k: int = 50,
    floor: float = 0.8,
    reranker: Reranker | None = None,
    threshold: float | None = None,
    max_pairs: int | None = None,
    **candidate_kwargs: Any,
) -> list[MinedPair]:
    """Duplicate pairs among `texts` (see the module docstring), best first."""
    if not (len(ids) == len(texts) == len(embeddings)):
        raise ValueError(f"{len(ids)} ids, {len(texts)} texts, {len(embeddings)} embeddings")
    a, b, sc = candidate_pairs(embeddings, k=k, floor=floor, **candidate_kwargs)
    if max_pairs is not None:
        a, b, sc = a[:max_pairs], b[:max_pairs], sc[:max_pairs]
    pairs = [
        MinedPair(str(ids[x]), str(ids[y]), texts[x], texts[y], float(s))
        for x, y, s in zip(a, b, sc)
    ]
    log.info("mining: %d candidate pairs with similarity >= %.3f", len(pairs), floor)
    if reranker is not None and pairs:
        from pairlm.search.rerank import rerank

        texts_a, texts_b = [q.text_a for q in pairs], [q.text_b for q in pairs]
        pairs = rerank(reranker, pairs, texts_a, texts_b, threshold=threshold)
    return pairs


def mine_index(index: CorpusIndex, **kwargs: Any) -> list[MinedPair]:
    """Mine the documents of an index, using its stored vectors (no re-embedding)."""
    ids: list[str] = []
    texts: list[str] = []
    vecs: list[np.ndarray] = []
    for i, t, v in index.iter_documents():
        ids += i
        texts += t
        vecs.append(v)
    emb = np.concatenate(vecs) if vecs else np.zeros((0, index.dim), np.float32)
    return mine_pairs(ids, texts, emb, **kwargs)


def write_pairs(pairs: Sequence[MinedPair], path: str | Path) -> None:
    """Write mined pairs as CSV (``.csv``/``.tsv``) or JSON lines (anything else)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fields = ["id_a", "id_b", "similarity", "probability", "text_a", "text_b"]
    if p.suffix.lower() in (".csv", ".tsv"):
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(
                f, fieldnames=fields, delimiter="\t" if p.suffix.lower() == ".tsv" else ","
            )
            w.writeheader()
            for q in pairs:
                w.writerow(q.to_dict())
    else:
        with p.open("w", encoding="utf-8") as f:
            for q in pairs:
                f.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
