from __future__ import annotations

import json

import pytest

from pairlm.data.pairs import stable_text_id
from pairlm.search.corpus import CorpusError, read_corpus


def test_txt_one_text_per_line(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("first text\n\n  second text  \n")
    c = read_corpus(f)
    assert c.ids == ["1", "3"] and c.texts == ["first text", "second text"]


def test_csv_tsv_jsonl_with_columns(tmp_path):
    (tmp_path / "a.csv").write_text('doc_id,body\nx,"hello, world"\ny,bye\n')
    c = read_corpus(tmp_path / "a.csv")
    assert c.ids == ["x", "y"] and c.texts == ["hello, world", "bye"]
    (tmp_path / "b.tsv").write_text('id\ttext\n1\tsay "hi\n2\tok\n')
    assert read_corpus(tmp_path / "b.tsv").texts == ['say "hi', "ok"]  # QUOTE_NONE
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"key": "k1", "content": "one"})
        + "\n"
        + json.dumps({"key": "k2", "content": "two"})
    )
    c = read_corpus(tmp_path / "c.jsonl", id_column="key", text_column="content")
    assert c.ids == ["k1", "k2"]
    (tmp_path / "d.csv").write_text("name\nfoo\n")
    with pytest.raises(CorpusError, match="no text column"):
        read_corpus(tmp_path / "d.csv")
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "nothing.txt")


def test_pairs_files_give_distinct_texts(tmp_path):
    f = tmp_path / "glue.tsv"
    f.write_text("1\t10\t11\tHow are you?\tHow do you do?\t1\n2\t10\t12\tHow are you?\tWho?\t0\n")
    c = read_corpus(f)
    assert c.ids == ["10", "11", "12"] and c.texts[0] == "How are you?"
    g = tmp_path / "p.csv"
    g.write_text("sentence1,sentence2,label\nA cat.,A dog.,0\nA dog.,A cat sat.,1\n")
    c = read_corpus(g)
    assert c.texts == ["A cat.", "A dog.", "A cat sat."]
    assert c.ids[0] == stable_text_id("A cat.")
