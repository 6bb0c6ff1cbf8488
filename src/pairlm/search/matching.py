"""Matching two collections of texts of any length (queries × candidates).

Long texts are split into passages (`split_passages`: sentences packed up to a word budget,
consecutive passages overlapping by a few words; a sentence longer than the budget is cut
into overlapping word windows). Every passage is embedded; each query passage retrieves its
nearest candidate passages (exact inner product); a candidate document's score pools the
similarities of its retrieved passages: ``max`` or ``mean`` of its top-n. A reranker (any
saved `PairClassifier`), when given, scores (query, best passage) for the top-k documents.

Budgets are in whitespace words: all-MiniLM-L6-v2 reads 256 word pieces, about 1.3 per
English word, so the default of 160 words stays within it.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from pairlm.search.rerank import Reranker

_SENT = re.compile(r"(?<=[.!?。！？])\s+|\n{2,}")


def split_passages(text: str, max_words: int = 160, overlap: int = 32) -> list[str]:
    """Split `text` into passages of at most `max_words` words; passages overlap by up to
    `overlap` words (whole trailing sentences when they fit, else word windows)."""
    if max_words < 1 or not 0 <= overlap < max_words:
        raise ValueError(
            f"need max_words >= 1 and 0 <= overlap < max_words, got {max_words}, {overlap}"
        )
    words_all = text.split()
    if len(words_all) <= max_words:
        return [" ".join(words_all)] if words_all else []
    sentences: list[list[str]] = []
    for s in _SENT.split(text):
        w = s.split()
        if not w:
            continue
        if len(w) <= max_words:
            sentences.append(w)
        else:  # one overlong sentence: word windows
            step = max_words - overlap
            for i in range(0, len(w), step):
                sentences.append(w[i : i + max_words])
                if i + max_words >= len(w):
                    break
    passages: list[str] = []
    cur: list[list[str]] = []
    size = 0
    for sent in sentences:
        if cur and size + len(sent) > max_words:
            passages.append(" ".join(w for s in cur for w in s))
            # carry trailing sentences as overlap while they fit
            carry: list[list[str]] = []
            c = 0
            for s in reversed(cur):
                if c + len(s) > overlap or c + len(s) + len(sent) > max_words:
                    break
                carry.insert(0, s)
                c += len(s)
            cur, size = carry, c
        cur.append(sent)
        size += len(sent)
    if cur:
        passages.append(" ".join(w for s in cur for w in s))
    return passages


@dataclass
class Match:
    """One candidate matched to a query."""

    query_id: str
    rank: int
    candidate_id: str
    score: float
    passage: str
    """The candidate passage that matched best."""
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _passages(
    ids: Sequence[str], texts: Sequence[str], max_words: int, overlap: int
) -> tuple[list[str], np.ndarray]:
    out: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        ps = split_passages(t, max_words, overlap) or [t]
        out += ps
        owner += [i] * len(ps)
    return out, np.asarray(owner, dtype=np.int64)


def match(
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    cand_ids: Sequence[str],
    cand_texts: Sequence[str],
    *,
    encoder: SentenceTransformer,
    k: int = 10,
    pool: Literal["max", "mean"] = "max",
    top_n: int = 3,
    max_words: int = 160,
    overlap: int = 32,
    passages_per_query: int | None = None,
    reranker: Reranker | None = None,
    batch_size: int = 64,
    show_progress: bool | None = None,
) -> dict[str, list[Match]]:
    """Top-`k` candidates for each query, scores pooled over passages.

    `pool="max"`: the best passage-pair similarity; `pool="mean"`: the mean of the `top_n`
    best passage-pair similarities retrieved for that candidate (fewer when fewer retrieved).
    `passages_per_query`: candidate passages retrieved per query passage (default 10·k).
    """
    import faiss

    from pairlm.models.encoders import encode_unique

    if pool not in ("max", "mean"):
        raise ValueError(f"pool must be 'max' or 'mean', got {pool!r}")
    if len(query_ids) != len(query_texts) or len(cand_ids) != len(cand_texts):
        raise ValueError("ids and texts must have the same length")
    results: dict[str, list[Match]] = {}
    if not query_texts or not cand_texts:
        return {str(q): [] for q in query_ids}
    cp, cown = _passages(cand_ids, cand_texts, max_words, overlap)
    qp, qown = _passages(query_ids, query_texts, max_words, overlap)
    cemb = encode_unique(encoder, cp, batch_size=batch_size, show_progress=show_progress)
    qemb = encode_unique(encoder, qp, batch_size=batch_size, show_progress=show_progress)
    index = faiss.IndexFlatIP(cemb.shape[1])
    index.add(cemb)
    m = min(len(cp), passages_per_query or 10 * k)
    sims, nbrs = index.search(qemb, m)
    per_query: dict[int, dict[int, list[tuple[float, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row, (srow, nrow) in enumerate(zip(sims, nbrs)):
        q = int(qown[row])
        for s, pidx in zip(srow, nrow):
            if pidx >= 0:
                per_query[q][int(cown[pidx])].append((float(s), int(pidx)))
    for qi, qid in enumerate(query_ids):
        scored = []
        for ci, lst in per_query.get(qi, {}).items():
            lst.sort(reverse=True)
            score = lst[0][0] if pool == "max" else float(np.mean([s for s, _ in lst[:top_n]]))
            scored.append((score, ci, cp[lst[0][1]]))
        scored.sort(key=lambda t: -t[0])
        matches = [
            Match(str(qid), r + 1, str(cand_ids[ci]), float(s), passage)
            for r, (s, ci, passage) in enumerate(scored[:k])
        ]
        if reranker is not None and matches:
            p = reranker.score([query_texts[qi]] * len(matches), [x.passage for x in matches])
            for x, pi in zip(matches, p):
                x.probability = float(pi)
            matches.sort(key=lambda x: -(x.probability or 0.0))
            for r, x in enumerate(matches):
                x.rank = r + 1
        results[str(qid)] = matches
    return results


def write_matches(results: dict[str, list[Match]], path: str | Path) -> int:
    """Write matches as CSV (``.csv``/``.tsv``) or JSON lines; returns the number of rows."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [m.to_dict() for ms in results.values() for m in ms]
    fields = ["query_id", "rank", "candidate_id", "score", "probability", "passage"]
    if p.suffix.lower() in (".csv", ".tsv"):
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(
                f, fieldnames=fields, delimiter="\t" if p.suffix.lower() == ".tsv" else ","
            )
            w.writeheader()
            w.writerows(rows)
    else:
        with p.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return len(rows)
