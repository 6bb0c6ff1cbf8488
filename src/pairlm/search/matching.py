"""Matching two collections of texts of any length (queries × candidates).

Profiles. A query or a candidate is a *profile*: one document or several (a reviewer's papers,
a résumé and a cover letter), grouped by `query_profiles` / `candidate_profiles` (the
``profile`` field of a corpus file); without them each document is its own profile.

Passages. Each document is split into passages on its own (`split_passages`: sentences packed
up to a word budget, consecutive passages overlapping by a few words; a sentence longer than
the budget is cut into overlapping word windows), so no passage straddles two documents.
Every distinct passage is embedded once.

Scores. A document pair scores its best passage pair (cosine similarity). A profile pair pools
its document pairs: ``max``, the best passage pair; ``mean``, the mean of the `top_n` best
document pairs (all of them when there are fewer; the same as ``max`` when both profiles are
single documents). Output rows name the document and the passages of the best passage pair.

Every candidate, exactly. `match` compares every query passage with every candidate passage
(a chunked matrix product: the work an exact FAISS flat search does, without its cut-off), so
each query gets exactly ``min(k, number of candidate profiles)`` candidates, each with its
exact pooled score. `match_index` matches against a `CorpusIndex` instead, where scoring
everything would mean reading every stored vector: it retrieves each query passage's nearest
documents, scores the retrieved ones exactly, and widens the retrieval (doubling it) until
the k-th score is at least every passage's last retrieved similarity (so no document left
out could rank higher: exact on a flat index, as good as HNSW's recall on an HNSW one).
Its matches name their best passage pair as `match`'s do: the k documents are split into
passages the same way (`_passage_side`).

A reranker (any saved `PairClassifier`), when given, scores (best query passage, best
candidate passage) for the top-k candidates and reorders them.

Budgets are in whitespace words. ``max`` pooling and ``top_n`` 2 for ``mean`` were chosen on
tasks built from STS-B's train split and confirmed on its dev and test splits
(`benchmarks/matching_defaults.py`, `results/matching-defaults/matching_defaults.json`,
docs/search.md). The passage budget stays at 160 words (32 shared): those tasks, runs of
unrelated sentences, favour ever shorter passages by construction, while 160 words did well
on a real reviewer-assignment task; all-MiniLM-L6-v2 reads 256 word pieces, about 1.3 per
English word, so 160 words stay within it. The work grows with the product of the two
sides' passage counts.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from pairlm.search.index import CorpusIndex
    from pairlm.search.judge import Judgements
    from pairlm.search.rerank import Reranker

_SENT = re.compile(r"(?<=[.!?。！？])\s+|\n{2,}")
DEFAULT_MAX_WORDS = 160
DEFAULT_TOP_N = 2
_BLOCK = 1 << 24
"""Similarities computed at once (64 MB of float32)."""


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
    """One candidate profile matched to a query profile."""

    query_id: str
    rank: int
    candidate_id: str
    score: float
    passage: str
    """The candidate passage of the best passage pair."""
    probability: float | None = None
    candidate_document: str = ""
    """The candidate document holding `passage`."""
    query_document: str = ""
    query_passage: str = ""
    """The query passage of the best passage pair (in `query_document`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Side:
    """One side of a matching: profiles, their documents, their passages (each contiguous)."""

    profiles: list[str]
    doc_ids: list[str]
    doc_profile: np.ndarray
    profile_start: np.ndarray
    """First document of each profile, then the number of documents."""
    passages: list[str]
    passage_doc: np.ndarray
    doc_start: np.ndarray
    """First passage of each document, then the number of passages."""
    emb: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def passage_range(self, profile: int) -> tuple[int, int]:
        d0, d1 = self.profile_start[profile], self.profile_start[profile + 1]
        return int(self.doc_start[d0]), int(self.doc_start[d1])


def default_overlap(max_words: int) -> int:
    """Words shared by consecutive passages when not given: a fifth of the budget, at most 32."""
    return min(32, max_words // 5)


def _side(
    ids: Sequence[str],
    texts: Sequence[str],
    profiles: Sequence[str] | None,
    max_words: int,
    overlap: int | None,
    what: str,
) -> _Side:
    """Group documents by profile (profiles in first-seen order) and split them into passages."""
    overlap = default_overlap(max_words) if overlap is None else overlap
    if len(ids) != len(texts) or (profiles is not None and len(profiles) != len(ids)):
        raise ValueError(f"{what}: ids, texts and profiles must have the same length")
    prof = [str(x) for x in (ids if profiles is None else profiles)]
    first: dict[str, int] = {}
    for x in prof:
        first.setdefault(x, len(first))
    seen: set[tuple[str, str]] = set()
    doc_ids: list[str] = []
    doc_profile: list[int] = []
    passages: list[str] = []
    passage_doc: list[int] = []
    doc_start = [0]
    for i in sorted(range(len(ids)), key=lambda i: first[prof[i]]):
        key = (prof[i], str(ids[i]))
        if key in seen:
            where = f" in profile {key[0]!r}" if profiles is not None else ""
            raise ValueError(f"{what}: document id {key[1]!r} appears twice{where}")
        seen.add(key)
        ps = split_passages(texts[i], max_words, overlap) or [texts[i]]
        passage_doc += [len(doc_ids)] * len(ps)
        passages += ps
        doc_ids.append(key[1])
        doc_profile.append(first[prof[i]])
        doc_start.append(len(passages))
    dp = np.asarray(doc_profile, dtype=np.int64)
    return _Side(
        list(first),
        doc_ids,
        dp,
        np.searchsorted(dp, np.arange(len(first) + 1)),
        passages,
        np.asarray(passage_doc, dtype=np.int64),
        np.asarray(doc_start, dtype=np.int64),
    )


def _unique_passages(side: _Side) -> tuple[list[str], list[int]]:
    """Distinct passages and, for each passage, its row among them."""
    pos: dict[str, int] = {}
    rows = [pos.setdefault(t, len(pos)) for t in side.passages]
    return list(pos), rows


def _embed(side: _Side, encoder: Any, batch_size: int, show_progress: bool | None) -> None:
    from pairlm.models.encoders import encode_unique

    uniq, rows = _unique_passages(side)
    emb = encode_unique(encoder, uniq, batch_size=batch_size, show_progress=show_progress)
    side.emb = np.ascontiguousarray(emb[rows], dtype=np.float32)


# ---------------------------------------------------------------------- scoring
def _doc_pair_max(q: _Side, d0: int, d1: int, c: _Side) -> np.ndarray:
    """Best passage-pair similarity of each (query document d0..d1-1, candidate document)."""
    r0, r1 = int(q.doc_start[d0]), int(q.doc_start[d1])
    out = np.full((d1 - d0, len(c.doc_ids)), -np.inf, dtype=np.float32)
    step = max(1, _BLOCK // max(1, len(c.passages)))
    starts = c.doc_start[:-1]
    for s in range(r0, r1, step):
        e = min(r1, s + step)
        per_doc = np.maximum.reduceat(q.emb[s:e] @ c.emb.T, starts, axis=1)
        row_doc = q.passage_doc[s:e] - d0
        cut = np.flatnonzero(np.r_[True, row_doc[1:] != row_doc[:-1]])
        docs = row_doc[cut]
        out[docs] = np.maximum(out[docs], np.maximum.reduceat(per_doc, cut, axis=0))
    return out


def _top_mean(values: np.ndarray, segment: np.ndarray, n_segments: int, n: int) -> np.ndarray:
    """Mean of the `n` largest values of each segment (all of them when it has fewer)."""
    order = np.lexsort((-values, segment))
    seg, val = segment[order], values[order]
    first = np.searchsorted(seg, np.arange(n_segments))
    keep = np.arange(len(seg)) - first[seg] < n
    sums = np.bincount(seg[keep], weights=val[keep], minlength=n_segments)
    return sums / np.bincount(seg[keep], minlength=n_segments)


def _pool(doc_pairs: np.ndarray, c: _Side, pool: str, top_n: int) -> np.ndarray:
    """One query profile's score for every candidate profile, from its document-pair scores
    (query documents × candidate documents)."""
    if pool == "max":
        return np.maximum.reduceat(doc_pairs.max(axis=0), c.profile_start[:-1]).astype(np.float64)
    n = min(top_n, doc_pairs.shape[0])
    best = -np.sort(-doc_pairs, axis=0)[:n] if doc_pairs.shape[0] > 1 else doc_pairs
    values = best.ravel().astype(np.float64)
    if n == 1 and len(c.doc_ids) == len(c.profiles):
        return values
    return _top_mean(values, np.tile(c.doc_profile, n), len(c.profiles), top_n)


def _rank(
    q: _Side,
    c: _Side,
    k: int,
    pool: str,
    top_n: int,
    wanted: Mapping[int, Sequence[int]] | None = None,
) -> tuple[dict[int, list[tuple[int, float]]], dict[tuple[int, int], float]]:
    """Every query profile's top-k candidate profiles [(candidate, score)], best first (ties:
    input order), and the scores of the `wanted` (query → candidates) pairs."""
    top: dict[int, list[tuple[int, float]]] = {}
    extra: dict[tuple[int, int], float] = {}
    rows = max(1, _BLOCK // max(1, len(c.passages)))
    qp, n_q = 0, len(q.profiles)
    while qp < n_q:  # a block of whole query profiles with about `rows` passages
        end = qp + 1
        while end < n_q and q.passage_range(end)[1] - q.passage_range(qp)[0] <= rows:
            end += 1
        d_first = int(q.profile_start[qp])
        block = _doc_pair_max(q, d_first, int(q.profile_start[end]), c)
        for p in range(qp, end):
            d0, d1 = q.profile_start[p] - d_first, q.profile_start[p + 1] - d_first
            scores = _pool(block[d0:d1], c, pool, top_n)
            order = np.argsort(-scores, kind="stable")[:k]
            top[p] = [(int(i), float(scores[i])) for i in order]
            for cp in (wanted or {}).get(p, ()):
                extra[(p, cp)] = float(scores[cp])
        qp = end
    return top, extra


def _describe(q: _Side, qp: int, c: _Side, cp: int, rank: int, score: float) -> Match:
    """A `Match` naming the best passage pair of a profile pair and its documents."""
    qa, qb = q.passage_range(qp)
    ca, cb = c.passage_range(cp)
    sims = q.emb[qa:qb] @ c.emb[ca:cb].T
    bi, bj = np.unravel_index(int(np.argmax(sims)), sims.shape)
    i, j = qa + int(bi), ca + int(bj)
    return Match(
        q.profiles[qp],
        rank,
        c.profiles[cp],
        score,
        c.passages[j],
        candidate_document=c.doc_ids[c.passage_doc[j]],
        query_document=q.doc_ids[q.passage_doc[i]],
        query_passage=q.passages[i],
    )


def _rerank(matches: list[Match], reranker: Reranker) -> list[Match]:
    """Each match's P(duplicate) of its best passage pair; the matches reordered by it
    (stable, none left out: `rerank.rerank`) and ranked again."""
    from pairlm.search.rerank import rerank

    texts_a, texts_b = [m.query_passage for m in matches], [m.passage for m in matches]
    ranked = rerank(reranker, matches, texts_a, texts_b, keep_below=True)
    for r, m in enumerate(ranked, start=1):
        m.rank = r
    return ranked


def _results(
    q: _Side, c: _Side, top: dict[int, list[tuple[int, float]]], reranker: Reranker | None
) -> dict[str, list[Match]]:
    out: dict[str, list[Match]] = {}
    for qp, ranked in top.items():
        ms = [_describe(q, qp, c, cp, r, s) for r, (cp, s) in enumerate(ranked, start=1)]
        out[q.profiles[qp]] = ms if reranker is None else _rerank(ms, reranker)
    return out


# ---------------------------------------------------------------------- entry points
def _check(k: int, pool: str, top_n: int) -> None:
    if pool not in ("max", "mean"):
        raise ValueError(f"pool must be 'max' or 'mean', got {pool!r}")
    if k < 1 or top_n < 1:
        raise ValueError(f"k and top_n must be at least 1, got {k} and {top_n}")


def _sides(
    queries: tuple[Sequence[str], Sequence[str], Sequence[str] | None],
    candidates: tuple[Sequence[str], Sequence[str], Sequence[str] | None],
    max_words: int,
    overlap: int | None,
) -> tuple[_Side, _Side]:
    return (
        _side(*queries, max_words, overlap, "queries"),
        _side(*candidates, max_words, overlap, "candidates"),
    )


def match(
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    cand_ids: Sequence[str],
    cand_texts: Sequence[str],
    *,
    encoder: SentenceTransformer,
    k: int = 10,
    pool: Literal["max", "mean"] = "max",
    top_n: int = DEFAULT_TOP_N,
    max_words: int = DEFAULT_MAX_WORDS,
    overlap: int | None = None,
    reranker: Reranker | None = None,
    batch_size: int = 64,
    show_progress: bool | None = None,
    query_profiles: Sequence[str] | None = None,
    candidate_profiles: Sequence[str] | None = None,
) -> dict[str, list[Match]]:
    """The top ``min(k, number of candidate profiles)`` candidates of every query profile,
    scored exactly (see the module docstring), keyed by query profile.

    `query_profiles` / `candidate_profiles`: the profile of each document (None: each
    document is its own profile, named by its id). `pool="max"`: a profile pair scores its
    best passage pair; `pool="mean"`: the mean of its `top_n` best document pairs.
    `max_words`: the passage budget; `overlap`: words consecutive passages share (default
    `default_overlap(max_words)`).
    """
    _check(k, pool, top_n)
    q, c = _sides(
        (query_ids, query_texts, query_profiles),
        (cand_ids, cand_texts, candidate_profiles),
        max_words,
        overlap,
    )
    if not q.doc_ids or not c.doc_ids:
        return {p: [] for p in q.profiles}
    _embed(c, encoder, batch_size, show_progress)
    _embed(q, encoder, batch_size, show_progress)
    top, _ = _rank(q, c, k, pool, top_n)
    return _results(q, c, top, reranker)


def match_and_evaluate(
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    cand_ids: Sequence[str],
    cand_texts: Sequence[str],
    judgements: Judgements,
    *,
    encoder: SentenceTransformer,
    k: int = 10,
    pool: Literal["max", "mean"] = "max",
    top_n: int = DEFAULT_TOP_N,
    max_words: int = DEFAULT_MAX_WORDS,
    overlap: int | None = None,
    reranker: Reranker | None = None,
    batch_size: int = 64,
    show_progress: bool | None = None,
    query_profiles: Sequence[str] | None = None,
    candidate_profiles: Sequence[str] | None = None,
    relevant_grade: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, list[Match]], dict[str, Any]]:
    """`match`, then measure it against `judgements` (`pairlm.search.judge.evaluate_matching`): the
    matches and the report. Every judged pair is scored, ranked in the top k or not (with a
    reranker, by its P(duplicate)); a judgement naming an unknown id raises `JudgementsError`
    before anything is embedded."""
    from pairlm.search.judge import evaluate_matching

    _check(k, pool, top_n)
    q, c = _sides(
        (query_ids, query_texts, query_profiles),
        (cand_ids, cand_texts, candidate_profiles),
        max_words,
        overlap,
    )
    judgements.check_ids(q.profiles, c.profiles)
    qi = {p: i for i, p in enumerate(q.profiles)}
    ci = {p: i for i, p in enumerate(c.profiles)}
    wanted: dict[int, list[int]] = {}
    for qid, cid in judgements.grades:
        wanted.setdefault(qi[qid], []).append(ci[cid])
    _embed(c, encoder, batch_size, show_progress)
    _embed(q, encoder, batch_size, show_progress)
    top, extra = _rank(q, c, k, pool, top_n, wanted)
    results = _results(q, c, top, reranker)
    scores = {(q.profiles[a], c.profiles[b]): s for (a, b), s in extra.items()}
    if reranker is not None:
        scores = _judged_probabilities(q, c, results, list(extra), reranker)
    rankings = {qid: [m.candidate_id for m in ms] for qid, ms in results.items()}
    report = evaluate_matching(
        rankings, scores, judgements, k=k, relevant_grade=relevant_grade, n_boot=n_boot, seed=seed
    )
    return results, report


def _judged_probabilities(
    q: _Side,
    c: _Side,
    results: dict[str, list[Match]],
    pairs: list[tuple[int, int]],
    reranker: Reranker,
) -> dict[tuple[str, str], float]:
    """P(duplicate) of each judged pair: from the results when ranked, else scored here."""
    have = {(m.query_id, m.candidate_id): m.probability for ms in results.values() for m in ms}
    out: dict[tuple[str, str], float] = {}
    todo: list[Match] = []
    for a, b in pairs:
        key = (q.profiles[a], c.profiles[b])
        if have.get(key) is not None:
            out[key] = float(have[key] or 0.0)
        else:
            todo.append(_describe(q, a, c, b, 0, 0.0))
    if todo:
        p = reranker.score([m.query_passage for m in todo], [m.passage for m in todo])
        out.update({(m.query_id, m.candidate_id): float(pi) for m, pi in zip(todo, p)})
    return out


def match_index(
    index: CorpusIndex,
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    *,
    k: int = 10,
    pool: Literal["max", "mean"] = "max",
    top_n: int = DEFAULT_TOP_N,
    max_words: int = DEFAULT_MAX_WORDS,
    overlap: int | None = None,
    reranker: Reranker | None = None,
    query_profiles: Sequence[str] | None = None,
) -> dict[str, list[Match]]:
    """Match queries against the documents of a corpus index (each its own profile, ranked
    by its stored vector): retrieval widened until the top k are settled (see the module
    docstring), the retrieved documents scored as in `match`. Each match names its best
    passage pair as in `match` (the k documents split into passages, the longer ones
    embedded for it), and a reranker scores that pair."""
    _check(k, pool, top_n)
    q = _side(query_ids, query_texts, query_profiles, max_words, overlap, "queries")
    n = len(index)
    if not q.doc_ids or n == 0:
        return {p: [] for p in q.profiles}
    uniq, rows = _unique_passages(q)
    q.emb = np.ascontiguousarray(index.encode(uniq)[rows])
    m = min(n, max(2 * k, 16))
    while True:
        hits = index.search_vectors(q.emb, m)
        c = _index_side(index, hits)
        if not c.doc_ids:
            return {p: [] for p in q.profiles}
        top, _ = _rank(q, c, k, pool, top_n)
        if m >= n or all(_settled(q, p, ranked, hits, k, m) for p, ranked in top.items()):
            side, top = _passage_side(index, c, top, max_words, overlap)
            return _results(q, side, top, reranker)
        m = min(n, 2 * m)


def _index_side(index: CorpusIndex, hits: list[list[Any]]) -> _Side:
    """The retrieved documents as a candidate side (each document one passage, one profile)."""
    text = {h.doc_id: h.text for hs in hits for h in hs}
    vecs = index.vectors(list(text))
    ids = [d for d in text if d in vecs]
    n = len(ids)
    side = _Side(
        ids,
        ids,
        np.arange(n),
        np.arange(n + 1),
        [text[d] for d in ids],
        np.arange(n),
        np.arange(n + 1),
    )
    side.emb = np.stack([vecs[d] for d in ids]) if ids else np.zeros((0, index.dim), np.float32)
    return side


def _passage_side(
    index: CorpusIndex,
    c: _Side,
    top: dict[int, list[tuple[int, float]]],
    max_words: int,
    overlap: int | None,
) -> tuple[_Side, dict[int, list[tuple[int, float]]]]:
    """The ranked documents of an index side split into passages as `match` splits its
    candidates (`_side`), so that a match names the candidate passage of its best passage
    pair, not the whole document; `top` renumbered into the new side, scores unchanged (the
    documents' stored vectors ranked them). A document of one passage keeps its stored
    vector; the passages of longer ones are embedded here."""
    docs = list(dict.fromkeys(cp for ranked in top.values() for cp, _ in ranked))
    ids, texts = [c.doc_ids[d] for d in docs], [c.passages[d] for d in docs]
    side = _side(ids, texts, None, max_words, overlap, "index documents")
    side.emb = np.zeros((len(side.passages), c.emb.shape[1]), dtype=np.float32)
    todo: list[int] = []
    for new, old in enumerate(docs):
        a, b = int(side.doc_start[new]), int(side.doc_start[new + 1])
        if b - a == 1:
            side.emb[a] = c.emb[old]
        else:
            todo += range(a, b)
    if todo:
        uniq = list(dict.fromkeys(side.passages[i] for i in todo))
        row = {t: i for i, t in enumerate(uniq)}
        side.emb[todo] = index.encode(uniq)[[row[side.passages[i]] for i in todo]]
    renumber = {old: new for new, old in enumerate(docs)}
    return side, {qp: [(renumber[cp], sc) for cp, sc in ranked] for qp, ranked in top.items()}


def _settled(
    q: _Side, qp: int, ranked: list[tuple[int, float]], hits: list[list[Any]], k: int, m: int
) -> bool:
    """No document left unretrieved can beat the k-th: each of its similarities with the
    query's passages is at most that passage's m-th retrieved one."""
    a, b = q.passage_range(qp)
    bound = max((hs[-1].score for hs in hits[a:b] if len(hs) >= m), default=-np.inf)
    return len(ranked) >= k and ranked[k - 1][1] >= bound


def write_matches(results: dict[str, list[Match]], path: str | Path) -> int:
    """Write matches as CSV (``.csv``/``.tsv``) or JSON lines; returns the number of rows."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [m.to_dict() for ms in results.values() for m in ms]
    fields = [
        "query_id",
        "rank",
        "candidate_id",
        "score",
        "probability",
        "candidate_document",
        "passage",
        "query_document",
        "query_passage",
    ]
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
