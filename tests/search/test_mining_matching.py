from __future__ import annotations

import numpy as np
import pytest
import tinyparts

from pairlm.models.encoders import load_sentence_encoder
from pairlm.search.matching import match, split_passages, write_matches
from pairlm.search.mining import candidate_pairs, mine_index, mine_pairs, write_pairs
from pairlm.search.rerank import Reranker


def _brute(x: np.ndarray, floor: float) -> set[tuple[int, int]]:
    s = x @ x.T
    i, j = np.nonzero(np.triu(s >= floor, 1))
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("exact_below", [10_000, 100])
def test_candidate_pairs_match_brute_force(exact_below):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    x = np.repeat(centres, 5, axis=0) + 0.15 * rng.normal(size=(200, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    a, b, s = candidate_pairs(x, k=10, floor=0.9, exact_below=exact_below, nprobe=8)
    truth = _brute(x, 0.9)
    got = set(zip(a.tolist(), b.tolist()))
    assert len(truth) > 50
    assert all(i < j for i, j in got) and len(got) == len(a)  # each pair once, i < j
    assert list(s) == sorted(s, reverse=True) and (s >= 0.9).all()
    assert len(got & truth) / len(truth) >= (1.0 if exact_below > 200 else 0.9)


def test_mine_with_reranker(tmp_path, tiny_encoder, tiny_reranker):
    from pairlm.search.index import CorpusIndex

    texts = [*tinyparts.DOCS.values(), "how do i learn python", "how to make money fast"]
    ids = [*tinyparts.DOCS, "dup1", "dup2"]
    idx = CorpusIndex.build(tmp_path / "i", ids, texts, encoder=tiny_encoder)
    pairs = mine_index(idx, k=5, floor=0.99)
    idx.close()
    assert {(p.id_a, p.id_b) for p in pairs} == {("d1", "dup1"), ("d10", "dup2")}
    emb = np.random.default_rng(0).normal(size=(len(texts), 8)).astype(np.float32)
    emb[-1] = emb[0] + 1e-3
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    rr = Reranker(tiny_reranker, threshold=0.99)
    got = mine_pairs(ids, texts, emb, k=3, floor=0.0, reranker=rr)
    assert got and all(p.probability is not None and p.probability >= 0.99 for p in got)
    write_pairs(pairs, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text().splitlines()[0].startswith("id_a,id_b,similarity")


def test_split_passages_budget_and_overlap():
    text = " ".join(f"Sentence number {i} has some words here." for i in range(40))
    ps = split_passages(text, max_words=30, overlap=8)
    assert len(ps) > 5 and all(len(p.split()) <= 30 for p in ps)
    assert ps[0].split()[-7:] == ps[1].split()[:7]  # a whole trailing sentence carried over
    long_sentence = " ".join(f"w{i}" for i in range(100))
    ws = split_passages(long_sentence, max_words=40, overlap=10)
    assert [len(p.split()) for p in ws][:2] == [40, 40] and ws[1].split()[0] == "w30"
    assert split_passages("short text", 30, 8) == ["short text"]
    with pytest.raises(ValueError):
        split_passages("x", 10, 10)


def test_match_long_documents(tmp_path, tiny_encoder, tiny_reranker):
    enc = load_sentence_encoder(tiny_encoder)
    filler = "the cat is on the dog. " * 30
    cands = {
        "c1": filler + "how do i learn python. " + filler,
        "c2": filler,
        "c3": "why is the sky blue",
    }
    res = match(
        ["q1", "q2"],
        ["how do i learn python", "why is the sky blue"],
        list(cands),
        list(cands.values()),
        encoder=enc,
        k=2,
        max_words=20,
        overlap=4,
    )
    assert res["q1"][0].candidate_id == "c1" and "python" in res["q1"][0].passage
    assert res["q2"][0].candidate_id == "c3" and res["q2"][0].score == pytest.approx(1.0, abs=1e-4)
    assert [m.rank for m in res["q1"]] == [1, 2]
    mean = match(
        ["q1"],
        ["how do i learn python"],
        list(cands),
        list(cands.values()),
        encoder=enc,
        k=3,
        pool="mean",
        top_n=3,
        max_words=20,
        overlap=4,
        reranker=Reranker(tiny_reranker),
    )
    assert all(m.probability is not None for m in mean["q1"])
    assert write_matches(res, tmp_path / "m.jsonl") == 4
    assert write_matches(res, tmp_path / "m.csv") == 4
