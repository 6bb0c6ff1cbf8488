from __future__ import annotations

import argparse
import json

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
