"""Issue 47: measuring a matching against graded judgements."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pairlm.search.judge import (
    Judgements,
    JudgementsError,
    average_precision_at_k,
    bootstrap_ci,
    evaluate_matching,
    ndcg_at_k,
    pairwise_loss,
    read_judgements,
)


def test_pairwise_loss_perfect_reversed_weighted_and_ties():
    grades = [1, 2, 3, 5]
    assert pairwise_loss(grades, [0.1, 0.2, 0.3, 0.9]) == 0.0
    assert pairwise_loss(grades, [0.9, 0.3, 0.2, 0.1]) == 1.0
    # only (grade 1, grade 2) ordered wrongly: weight 1 of 1+2+4+1+3+2 = 13
    assert pairwise_loss(grades, [0.25, 0.2, 0.3, 0.9]) == pytest.approx(1 / 13)
    assert pairwise_loss([1, 2], [0.5, 0.5]) == 0.5  # a score tie counts half
    assert pairwise_loss([3, 3, 3], [0.1, 0.2, 0.3]) is None  # nothing to order


def test_ndcg_and_average_precision_by_hand():
    gains = {"a": 3.0, "b": 2.0, "c": 0.0}
    assert ndcg_at_k(["a", "b", "c"], gains, 3) == pytest.approx(1.0)
    dcg = 2 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 2 / math.log2(3)
    assert ndcg_at_k(["b", "a", "x"], gains, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["x", "y"], {"x": 0.0}, 2) is None
    # relevant a, b; ranked x a y b: (1/2 + 2/4) / 2
    assert average_precision_at_k(["x", "a", "y", "b"], {"a", "b"}, 4) == pytest.approx(0.5)
    # at k = 2 only a is in reach: (1/2) / min(2, 2)
    assert average_precision_at_k(["x", "a", "y", "b"], {"a", "b"}, 2) == pytest.approx(0.25)
    assert average_precision_at_k(["a"], set(), 3) is None


def test_bootstrap_ci_over_queries():
    v = np.random.default_rng(0).normal(0.5, 0.1, 200)
    lo, hi = bootstrap_ci(v, 2000, seed=1)
    se = v.std(ddof=1) / math.sqrt(len(v))
    assert lo < v.mean() < hi and (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci(v, 500, seed=3) == bootstrap_ci(v, 500, seed=3)
    assert bootstrap_ci([0.4], 100) == (0.4, 0.4) and bootstrap_ci([], 100) is None


def test_evaluate_matching_report():
    j = Judgements.from_rows(
        [("q1", "a", 5), ("q1", "b", 3), ("q1", "c", 1), ("q2", "a", 1), ("q2", "b", 4)]
    )
    rankings = {"q1": ["a", "b", "c"], "q2": ["a", "b", "c"]}
    scores = {("q1", "a"): 0.9, ("q1", "b"): 0.5, ("q1", "c"): 0.1}
    scores |= {("q2", "a"): 0.8, ("q2", "b"): 0.2}
    r = evaluate_matching(rankings, scores, j, k=3, n_boot=200)
    per = {row["query_id"]: row for row in r["per_query"]}
    assert per["q1"]["pairwise_loss"] == 0.0 and per["q1"]["ndcg@3"] == pytest.approx(1.0)
    assert per["q2"]["pairwise_loss"] == 1.0 and per["q2"]["map@3"] == pytest.approx(0.5)
    assert r["relevant_grade"] == 4 and per["q1"]["relevant"] == 1  # distinct 1,3,4,5
    m = r["metrics"]
    assert m["pairwise_loss"]["mean"] == 0.5 and m["pairwise_loss"]["queries"] == 2
    assert m["pairwise_loss"]["ci95"] == [0.0, 1.0]
    assert set(m) == {"ndcg@3", "map@3", "pairwise_loss"}
    json.dumps(r, allow_nan=False)
    with pytest.raises(JudgementsError, match=r"\('q1', 'a'\) has no score"):
        evaluate_matching(rankings, {}, j, k=3)


def test_read_judgements_formats_and_errors(tmp_path):
    (tmp_path / "j.csv").write_text("grade,query_id,candidate_id\n4,q1,c1\n2.5,q1,c2\n")
    assert read_judgements(tmp_path / "j.csv").grades == {("q1", "c1"): 4.0, ("q1", "c2"): 2.5}
    (tmp_path / "j.tsv").write_text("q1\tc1\t1\nq2\tc1\t0\n")  # no header
    assert read_judgements(tmp_path / "j.tsv").rows == {("q1", "c1"): 1, ("q2", "c1"): 2}
    (tmp_path / "j.jsonl").write_text(json.dumps({"query_id": 1, "candidate_id": "c", "grade": 2}))
    assert read_judgements(tmp_path / "j.jsonl").grades == {("1", "c"): 2.0}
    bad = {
        "g.csv": ("query_id,candidate_id,grade\nq1,c1,good\n", r"g.csv:2: grade 'good' is not"),
        "d.csv": ("q,c,1\nq,c,2\n", r"d.csv:2: \('q', 'c'\) is judged twice \(first at row 1\)"),
        "h.csv": ("query,cand,score\nq,c,1\n", r"h.csv: needs columns query_id, candidate_id"),
        "m.jsonl": ('{"query_id": "q", "grade": 1}\n', r"m.jsonl:1: no field 'candidate_id'"),
        "e.csv": ("query_id,candidate_id,grade\n,c,1\n", r"e.csv:2: query_id is empty"),
    }
    for name, (text, msg) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(JudgementsError, match=msg):
            read_judgements(tmp_path / name)
    j = read_judgements(tmp_path / "j.tsv")
    with pytest.raises(JudgementsError, match=r"j.tsv:2: query_id 'q2' is not in the queries"):
        j.check_ids(["q1"], ["c1"])
    with pytest.raises(JudgementsError, match=r"j.tsv:1: candidate_id 'c1' is not in cands"):
        j.check_ids(["q1", "q2"], ["c2"], candidates="cands")
