"""Issue 47: every candidate when asked, profiles of many documents (matching and reading)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tinyparts

from pairlm.models.encoders import load_sentence_encoder
from pairlm.search.corpus import CorpusError, read_corpus
from pairlm.search.matching import match, match_index, split_passages

WORDS = tinyparts.WORDS
NEEDLE = "where can i buy a cheap laptop phone car"
FILLER = [w for w in WORDS if w not in NEEDLE.split()]


def _text(rng: np.random.Generator, sentences: int, words: int = 8, vocab=WORDS) -> str:
    return " ".join(" ".join(rng.choice(vocab, words)) + "." for _ in range(sentences))


@pytest.fixture(scope="module")
def enc(tiny_encoder):
    return load_sentence_encoder(tiny_encoder)


def _emb(enc, texts: list[str]) -> np.ndarray:
    return enc.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def _brute(enc, q_docs, c_docs, pool, top_n, max_words, overlap) -> np.ndarray:
    """Profile scores by the definition: a document pair scores its best passage pair; a
    profile pair the best document pair (max) or the mean of its top_n best (mean).
    `q_docs` / `c_docs`: one list of document texts per profile."""

    def passages(docs):
        return [_emb(enc, split_passages(d, max_words, overlap) or [d]) for d in docs]

    qp = [passages(d) for d in q_docs]
    cp = [passages(d) for d in c_docs]
    out = np.zeros((len(qp), len(cp)))
    for i, qd in enumerate(qp):
        for j, cd in enumerate(cp):
            pairs = sorted((float((a @ b.T).max()) for a in qd for b in cd), reverse=True)
            out[i, j] = pairs[0] if pool == "max" else np.mean(pairs[:top_n])
    return out


def test_k_candidates_each_with_exact_score_when_passages_crowd_the_top(enc):
    """Ten candidates made of 1,200 passages close to the queries take every top passage slot:
    under the old cut-off of 10·k passages per query passage, queries got these 10 candidates
    alone. Now each query gets all 58, each scored exactly."""
    rng = np.random.default_rng(0)
    queries = ["how do i learn python code", "what is the best way to cook rice"]
    crowd = [" ".join([queries[0] + ".", queries[1] + "."] * 120) for _ in range(10)]
    others = [_text(rng, 30) for _ in range(48)]
    cands = crowd + others
    ids = [f"c{i}" for i in range(len(cands))]
    assert sum(len(split_passages(t, 20, 4)) for t in crowd) > 10 * 58
    res = match(["q1", "q2"], queries, ids, cands, encoder=enc, k=58, max_words=20, overlap=4)
    truth = _brute(enc, [[q] for q in queries], [[t] for t in cands], "max", 3, 20, 4)
    for qi, qid in enumerate(("q1", "q2")):
        got = res[qid]
        assert len(got) == 58 and len({m.candidate_id for m in got}) == 58
        assert [m.rank for m in got] == list(range(1, 59))
        for m in got:
            assert m.score == pytest.approx(truth[qi, ids.index(m.candidate_id)], abs=1e-5)
        assert [m.score for m in got] == sorted((m.score for m in got), reverse=True)
    top5 = match(["q1"], queries[:1], ids, cands, encoder=enc, k=5, max_words=20, overlap=4)
    want = [ids[i] for i in np.argsort(-truth[0], kind="stable")[:5]]
    assert [m.candidate_id for m in top5["q1"]] == want
    assert len(match(["q"], ["x"], ids[:3], cands[:3], encoder=enc, k=58)["q"]) == 3


def _profiles(rng: np.random.Generator):
    """3 candidate profiles of 2 long documents; the query sentence sits in document b of r2."""
    docs = {(f"r{p}", f"r{p}-{d}"): _text(rng, 25, vocab=FILLER) for p in (1, 2, 3) for d in "ab"}
    text = docs[("r2", "r2-b")].split(". ")
    docs[("r2", "r2-b")] = ". ".join([*text[:12], NEEDLE, NEEDLE, *text[12:]])
    return docs, NEEDLE


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_candidate_profiles_both_pools_name_the_best_document(enc, pool):
    rng = np.random.default_rng(1)
    docs, needle = _profiles(rng)
    queries = [needle, _text(rng, 3), _text(rng, 20), _text(rng, 2)]
    qids = [f"q{i}" for i in range(4)]
    res = match(
        qids,
        queries,
        [d for _, d in docs],
        list(docs.values()),
        candidate_profiles=[p for p, _ in docs],
        encoder=enc,
        k=3,
        pool=pool,
        top_n=2,
        max_words=30,
        overlap=5,
    )
    assert sum(len(ms) for ms in res.values()) == 12
    assert all(sorted(m.candidate_id for m in ms) == ["r1", "r2", "r3"] for ms in res.values())
    best = res["q0"][0]
    assert (best.candidate_id, best.candidate_document) == ("r2", "r2-b")
    assert needle in best.passage and best.query_document == "q0"
    by_profile = [[t for (p, _), t in docs.items() if p == r] for r in ("r1", "r2", "r3")]
    truth = _brute(enc, [[q] for q in queries], by_profile, pool, 2, 30, 5)
    for qi, qid in enumerate(qids):
        for m in res[qid]:
            assert m.score == pytest.approx(truth[qi, int(m.candidate_id[1]) - 1], abs=1e-5)
            # the named document holds the named passage; no passage straddles two documents
            assert m.candidate_document.startswith(m.candidate_id)
            assert m.passage in " ".join(docs[(m.candidate_id, m.candidate_document)].split())


def test_query_profiles_pool_document_pairs_and_scores_are_symmetric(enc):
    rng = np.random.default_rng(2)
    q_docs = {("a", "a1"): _text(rng, 10), ("a", "a2"): _text(rng, 10), ("b", "b1"): _text(rng, 6)}
    c_docs = {(f"c{i}", f"d{j}"): _text(rng, 8) for i in range(4) for j in range(i + 1)}
    kw = {"encoder": enc, "k": 4, "pool": "mean", "top_n": 3, "max_words": 25, "overlap": 5}
    fwd = match(
        [d for _, d in q_docs],
        list(q_docs.values()),
        [d for _, d in c_docs],
        list(c_docs.values()),
        query_profiles=[p for p, _ in q_docs],
        candidate_profiles=[p for p, _ in c_docs],
        **kw,
    )
    back = match(
        [d for _, d in c_docs],
        list(c_docs.values()),
        [d for _, d in q_docs],
        list(q_docs.values()),
        query_profiles=[p for p, _ in c_docs],
        candidate_profiles=[p for p, _ in q_docs],
        **kw,
    )
    assert set(fwd) == {"a", "b"} and all(len(ms) == 4 for ms in fwd.values())
    truth = _brute(
        enc,
        [[q_docs["a", "a1"], q_docs["a", "a2"]], [q_docs["b", "b1"]]],
        [[t for (p, _), t in c_docs.items() if p == f"c{i}"] for i in range(4)],
        "mean",
        3,
        25,
        5,
    )
    for qi, q in enumerate(("a", "b")):
        for m in fwd[q]:
            assert m.score == pytest.approx(truth[qi, int(m.candidate_id[1])], abs=1e-5)
            twin = next(x for x in back[m.candidate_id] if x.candidate_id == q)
            assert twin.score == pytest.approx(m.score, abs=1e-5)
            assert m.query_document in ("a1", "a2", "b1")
    with pytest.raises(ValueError, match="'a1' appears twice in profile 'a'"):
        match(["a1", "a1"], ["x", "y"], ["c"], ["z"], query_profiles=["a", "a"], encoder=enc)


def test_match_index_gives_k_exact_documents(tmp_path, enc, tiny_encoder):
    from pairlm.search.index import CorpusIndex

    rng = np.random.default_rng(3)
    texts = [_text(rng, 1, 6) for _ in range(60)]
    ids = [f"t{i}" for i in range(60)]
    idx = CorpusIndex.build(tmp_path / "i", ids, texts, encoder=tiny_encoder)
    try:
        query = _text(rng, 12)
        for k in (3, 40, 60, 100):
            got = match_index(idx, ["q"], [query], k=k, max_words=15, overlap=3)["q"]
            qe = _emb(enc, split_passages(query, 15, 3))
            truth = (qe @ _emb(enc, texts).T).max(axis=0)
            assert len(got) == min(k, 60) and len({m.candidate_id for m in got}) == len(got)
            want = np.argsort(-truth, kind="stable")[: len(got)]
            assert [m.score for m in got] == pytest.approx(truth[want].tolist(), abs=1e-5)
    finally:
        idx.close()


def test_match_index_names_the_best_passage_not_the_whole_document(
    tmp_path, enc, tiny_encoder, tiny_reranker
):
    """Issue 43: a match against the index names the candidate passage of its best passage
    pair, as `match` does (it used to name the whole document), and a reranker scores that
    passage pair."""
    from pairlm.search.index import CorpusIndex
    from pairlm.search.rerank import Reranker

    rng = np.random.default_rng(5)
    long_doc = f"{_text(rng, 3, vocab=FILLER)} {NEEDLE}. {_text(rng, 3, vocab=FILLER)}"
    texts = [long_doc] + [_text(rng, 1, 6, FILLER) for _ in range(9)]
    ids = ["long"] + [f"s{i}" for i in range(9)]
    idx = CorpusIndex.build(tmp_path / "i", ids, texts, encoder=tiny_encoder)
    rr = Reranker(tiny_reranker)
    try:
        got = match_index(idx, ["q"], [NEEDLE], k=10, max_words=15, overlap=3, reranker=rr)["q"]
    finally:
        idx.close()
    assert len(got) == 10
    best = {m.candidate_id: m for m in got}["long"]
    passages = split_passages(long_doc, 15, 3)
    assert len(passages) == 7 and best.passage in passages and NEEDLE in best.passage
    assert best.candidate_document == "long" and best.query_passage == NEEDLE
    assert best.probability == pytest.approx(rr.score([NEEDLE], [best.passage])[0])
    # the same passage pairs as `match` over the same documents
    exact = match(["q"], [NEEDLE], ids, texts, encoder=enc, k=10, max_words=15, overlap=3)["q"]
    assert {m.candidate_id: m.passage for m in got} == {m.candidate_id: m.passage for m in exact}


def test_corpus_profile_field(tmp_path):
    f = tmp_path / "r.jsonl"
    rows = [
        {"id": "p1", "text": "paper one", "profile": "ann"},
        {"id": "p2", "text": "paper two", "profile": "ann"},
        {"id": "p1", "text": "paper one again", "profile": 7},
        {"id": "solo", "text": "no profile"},
        {"id": "p2", "text": "a repeat in ann is dropped", "profile": "ann"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    c = read_corpus(f)
    assert c.ids == ["p1", "p2", "p1", "solo"] and c.profiles == ["ann", "ann", "7", "solo"]
    g = tmp_path / "r.csv"
    g.write_text("id,Profile,text\nx,ann,one\ny,,two\nz,ann,three\n")
    c = read_corpus(g)
    assert c.profiles == ["ann", "y", "ann"] and c.texts == ["one", "two", "three"]
    assert read_corpus(tmp_path / "r.csv", text_column="text").profiles == c.profiles
    (tmp_path / "plain.tsv").write_text("id\ttext\na\tone\n")
    assert read_corpus(tmp_path / "plain.tsv").profiles is None
    (tmp_path / "bad.jsonl").write_text(json.dumps({"text": "t", "profile": ["x"]}))
    with pytest.raises(CorpusError, match=r"bad.jsonl:1: field 'profile' must be a string"):
        read_corpus(tmp_path / "bad.jsonl")


def test_match_and_evaluate_scores_every_judged_pair_with_the_reranker(enc, tiny_reranker):
    from pairlm.search.judge import Judgements, JudgementsError
    from pairlm.search.matching import match_and_evaluate
    from pairlm.search.rerank import Reranker

    cands = ["how do i learn python", "how do i learn java", "why is the sky blue"]
    ids = ["c1", "c2", "c3"]
    for grades, loss in (([3, 2, 1], 0.0), ([1, 2, 3], 1.0)):
        j = Judgements.from_rows([("q", c, g) for c, g in zip(ids, grades)])
        res, report = match_and_evaluate(
            ["q"], ["how do i learn python"], ids, cands, j, encoder=enc, k=1,
            reranker=Reranker(tiny_reranker),
        )  # fmt: skip
        assert len(res["q"]) == 1 and res["q"][0].probability is not None
        assert report["metrics"]["pairwise_loss"]["mean"] == loss  # by P(duplicate): 1 > 4/6 > 0
        assert report["per_query"][0]["judged"] == 3
    unknown = Judgements.from_rows([("q", "c9", 1)], source="j.csv")
    with pytest.raises(JudgementsError, match=r"j.csv:1: candidate_id 'c9' is not in"):
        match_and_evaluate(["q"], ["x"], ids, cands, unknown, encoder=None)  # type: ignore[arg-type]


def test_match_index_widens_until_no_unretrieved_document_can_rank_higher(tmp_path, tiny_encoder):
    """A query profile of two documents (along e1 and e2), pooled by mean: 20 documents near
    each axis fill each passage's first 16 neighbours, and the one document between the axes
    (the best by mean: 0.707 against about 0.48) is retrieved by neither. The settle check
    sees the top score below the 16th similarities and widens the retrieval to 32."""
    from pairlm.search.index import CorpusIndex

    rng = np.random.default_rng(0)
    e1, e2 = np.eye(32, dtype=np.float32)[:2]
    near = [e1 + 0.2 * rng.random(32) * np.r_[0, 0, np.ones(30)] for _ in range(20)]
    near += [e2 + 0.2 * rng.random(32) * np.r_[0, 0, np.ones(30)] for _ in range(20)]
    vecs = np.stack([*near, (e1 + e2) / np.sqrt(2)]).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"n{i}" for i in range(40)] + ["both"]
    idx = CorpusIndex.build(tmp_path / "i", ids, ids, encoder=tiny_encoder, embeddings=vecs)
    idx.encode = lambda texts, show_progress=None: np.stack([{"a": e1, "b": e2}[t] for t in texts])
    asked = []
    search = idx.search_vectors
    idx.search_vectors = lambda v, m: asked.append(m) or search(v, m)
    try:
        got = match_index(idx, ["a", "b"], ["a", "b"], query_profiles=["p", "p"], k=2, pool="mean")
    finally:
        idx.close()
    assert asked == [16, 32]
    assert got["p"][0].candidate_id == "both" and got["p"][0].score == pytest.approx(0.7071, 1e-4)
    assert len(got["p"]) == 2 and got["p"][1].score < 0.6
