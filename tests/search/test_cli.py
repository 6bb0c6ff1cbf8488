from __future__ import annotations

import argparse
import json

import pytest
import tinyparts

from pairlm.search.cli import add_search_commands


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    add_search_commands(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return int(args.func(args))


def test_index_search_mine_match_cli(tmp_path, tiny_encoder, tiny_reranker, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"id": k, "text": v}) for k, v in tinyparts.DOCS.items())
    )
    idx = str(tmp_path / "idx")
    assert (
        run(["index", "build", "--corpus", str(corpus), "--out", idx, "--encoder", tiny_encoder])
        == 0
    )
    assert (
        run(["index", "build", "--corpus", str(corpus), "--out", idx, "--encoder", tiny_encoder])
        == 2
    )
    capsys.readouterr()
    assert run(["search", "--index", idx, "-k", "2", "--json", "how do i learn python"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["hits"][0]["doc_id"] == "d1"
    assert (
        run(["search", "--index", idx, "--reranker", tiny_reranker, "how do i learn python"]) == 0
    )
    more = tmp_path / "more.txt"
    more.write_text("how do i learn python\n")
    assert run(["index", "add", "--index", idx, "--corpus", str(more)]) == 0
    assert run(["mine", "--index", idx, "--floor", "0.99", "--out", str(tmp_path / "p.jsonl")]) == 0
    pairs = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert {(p["id_a"], p["id_b"]) for p in pairs} == {("d1", "1")}
    assert run(["index", "delete", "--index", idx, "1", "nope"]) == 0
    capsys.readouterr()
    assert run(["index", "info", "--index", idx, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["documents"] == 10 and info["consistent"]
    out = tmp_path / "m.csv"
    assert (
        run(
            [
                "match",
                "--queries",
                str(more),
                "--candidates",
                str(corpus),
                "--out",
                str(out),
                "--encoder",
                tiny_encoder,
                "-k",
                "3",
            ]
        )
        == 0
    )
    rows = out.read_text().splitlines()
    assert rows[0].startswith("query_id,rank,candidate_id") and len(rows) == 4 and ",d1," in rows[1]


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def _profile_files(tmp_path):
    """3 candidate profiles of 2 long documents each (a profile field), 4 queries."""
    import numpy as np

    rng = np.random.default_rng(0)
    words = tinyparts.WORDS

    def text(n):
        return " ".join(" ".join(rng.choice(words, 8)) + "." for _ in range(n))

    cands = [
        {"id": f"{p}-{d}", "profile": p, "text": text(40)}
        for p in ("ann", "bob", "cy")
        for d in "ab"
    ]
    queries = [{"id": f"q{i}", "text": text(3 + 5 * i)} for i in range(4)]
    return _jsonl(tmp_path / "q.jsonl", queries), _jsonl(tmp_path / "c.jsonl", cands)


def test_match_cli_profiles_k_rows_and_judgements(tmp_path, tiny_encoder, capsys):
    q, c = _profile_files(tmp_path)
    out = tmp_path / "m.jsonl"
    base = ["match", "--queries", q, "--candidates", c, "--encoder", tiny_encoder, "-k", "3"]
    for pool in ("max", "mean"):
        assert run([*base, "--out", str(out), "--pool", pool, "--max-words", "30"]) == 0
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == 12
        for qid in ("q0", "q1", "q2", "q3"):
            assert sorted(r["candidate_id"] for r in rows if r["query_id"] == qid) == [
                "ann",
                "bob",
                "cy",
            ]
        assert all(r["candidate_document"].startswith(r["candidate_id"] + "-") for r in rows)
    # judgements that grade candidates in the order the scores give (then reversed)
    for order, loss in ((1, 0.0), (-1, 1.0)):
        judged = [
            {
                "query_id": r["query_id"],
                "candidate_id": r["candidate_id"],
                "grade": 5 - order * r["rank"],
            }
            for r in rows
        ]
        j = _jsonl(tmp_path / "j.jsonl", judged)
        assert (
            run(
                [*base, "--out", str(out), "--pool", "mean", "--max-words", "30", "--judgements", j]
            )
            == 0
        )
        report = json.loads((tmp_path / "m.metrics.json").read_text())
        m = report["metrics"]
        assert set(m) == {"ndcg@3", "map@3", "pairwise_loss"}
        assert m["pairwise_loss"]["mean"] == loss and m["pairwise_loss"]["ci95"] == [loss, loss]
        assert m["pairwise_loss"]["queries"] == 4 and len(report["per_query"]) == 4
        assert (m["ndcg@3"]["mean"] == pytest.approx(1.0)) == (order == 1)
        lo, hi = m["map@3"]["ci95"]
        assert lo <= m["map@3"]["mean"] <= hi
    capsys.readouterr()
    bad = _jsonl(
        tmp_path / "bad.jsonl", [*judged, {"query_id": "q9", "candidate_id": "ann", "grade": 1}]
    )
    assert run([*base, "--out", str(out), "--judgements", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.jsonl:13: query_id 'q9' is not in --queries" in err
    assert run([*base, "--out", str(out), "--overlap", "30", "--max-words", "30"]) == 2
    assert "--overlap" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run([*base, "--out", str(out), "--top-n", "0"])


def test_every_search_flag_has_help():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_search_commands(sub)
    parsers = dict(sub.choices)
    index_sub = next(
        a for a in parsers["index"]._actions if isinstance(a, argparse._SubParsersAction)
    )
    parsers |= {f"index {n}": sp for n, sp in index_sub.choices.items()}
    missing = [
        f"{name} {a.option_strings or a.dest}"
        for name, sp in parsers.items()
        for a in sp._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help
    ]
    assert not missing


def test_search_k_gives_k_distinct_documents(tmp_path, tiny_encoder, tiny_reranker, capsys):
    corpus = _jsonl(tmp_path / "c.jsonl", [{"id": k, "text": v} for k, v in tinyparts.DOCS.items()])
    idx = str(tmp_path / "idx")
    assert run(["index", "build", "--corpus", corpus, "--out", idx, "--encoder", tiny_encoder]) == 0
    for k, extra in ((4, []), (4, ["--reranker", tiny_reranker]), (25, [])):
        capsys.readouterr()
        assert run(["search", "--index", idx, "-k", str(k), "--json", *extra, "how to cook"]) == 0
        hits = json.loads(capsys.readouterr().out.splitlines()[0])["hits"]
        assert len({h["doc_id"] for h in hits}) == len(hits) == min(k, 10)
        if extra:  # below the reranker's threshold: kept, marked
            assert not all(h["duplicate"] for h in hits)
            assert [h["probability"] for h in hits] == sorted(
                (h["probability"] for h in hits), reverse=True
            )
