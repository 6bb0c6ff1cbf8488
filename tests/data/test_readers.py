"""Readers: every format, every known defect, in small fixtures written here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pairlm.data import (
    DataError,
    PairDataset,
    detect_format,
    normalize_text,
    read_glue_dir,
    read_pairs,
    stable_text_id,
)
from pairlm.data import readers as R
from pairlm.data.pairs import normalize_text_fast, text_id_from_normal_form
from pairlm.data.validation import (
    BAD_LABEL,
    DUPLICATE_PAIR,
    EMPTY_TEXT,
    MALFORMED_LINE,
    REPAIR_BOM,
    REPAIR_DUPLICATE_PAIR_ID,
    REPAIR_EMBEDDED_NEWLINE,
    REPAIR_EXTRA_COLUMNS,
    REPAIR_UNDECODABLE,
    SELF_PAIR,
    UNDECODABLE_BYTES,
)

QQP_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAIRLM_CACHE_DIR", str(cache))
    monkeypatch.setenv("PAIRLM_OFFLINE", "1")
    return cache


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, str):
        p.write_bytes(content.encode("utf-8"))
    else:
        p.write_bytes(content)
    return p


def rows(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------- QQP, original release
QUORA = QQP_HEADER + rows(
    "0\t1\t2\tWhat is the step by step guide to invest in share market?\tHow to invest?\t0",
    '1\t3\t4\t"How do I read ""Ulysses""?"\tIs Ulysses hard?\t1',
    '2\t5\t6\t"A question\nthat spans\nthree lines?"\tAnother question?\t0',
    "3\t7\t8\tWhy is the sky blue?\t\t0",
    "4\t9\t10\tWhat is love?\tWhat is life?\t2",
    "5\t10\t9\tWhat is life?\tWhat is love?\t0",
    "6\t11\t11\tSame id both sides?\tSame id both sides?\t1",
)


def test_quora_original_release(tmp_path: Path) -> None:
    p = write(tmp_path, "quora_duplicate_questions.tsv", QUORA)
    assert detect_format(p) == "quora"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None
    assert rep.rows_read == 7
    assert list(ds.pair_id) == ["0", "1", "2", "5"]
    # CSV quoting undone, embedded newlines kept inside the text
    assert ds.text_a[1] == 'How do I read "Ulysses"?'
    assert ds.text_a[2] == "A question\nthat spans\nthree lines?"
    assert rep.lines_for(REPAIR_EMBEDDED_NEWLINE) == [4]
    # question ids from the source
    assert list(ds.id_a) == ["1", "3", "5", "10"] and list(ds.id_b) == ["2", "4", "6", "9"]
    # physical line numbers after the 3-line record: empty question2 is on line 7
    assert rep.lines_for(EMPTY_TEXT) == [7]
    assert rep.lines_for(BAD_LABEL) == [8]
    # line 9 reverses line 8's texts, but line 8 was dropped, so line 9 is no duplicate
    assert rep.lines_for(SELF_PAIR) == [10]
    assert rep.rows_kept == len(ds) == 4
    assert rep.rows_kept + rep.rows_dropped == rep.rows_read


def test_quora_and_glue_readers_agree(tmp_path: Path) -> None:
    """The same content read as quora and as glue-qqp gives the same pairs."""
    p = write(tmp_path, "x.tsv", QUORA)
    a, b = read_pairs(p, "quora"), read_pairs(p, "glue-qqp")
    assert list(a.text_a) == list(b.text_a) and list(a.label) == list(b.label)


def test_unbalanced_quote_does_not_swallow_lines(tmp_path: Path) -> None:
    body = rows(
        '0\t1\t2\t"Stray opening quote never closed\tq2?\t0',
        "1\t3\t4\tNormal question one?\tNormal question two?\t1",
        "2\t5\t6\tAnother normal?\tAnd another?\t0",
    )
    ds = read_pairs(write(tmp_path, "glue.tsv", QQP_HEADER + body), "glue-qqp")
    assert len(ds) == 3
    assert ds.text_a[0] == '"Stray opening quote never closed'  # kept as is
    assert ds.text_a[1] == "Normal question one?"


def test_quoted_field_with_a_tab(tmp_path: Path) -> None:
    body = rows('0\t1\t2\t"has a\ttab inside"\tq2?\t1')
    ds = read_pairs(write(tmp_path, "glue.tsv", QQP_HEADER + body), "glue-qqp")
    assert ds.text_a[0] == "has a\ttab inside"


# ---------------------------------------------------------------------- headerless subset
def test_headerless_subset_malformed_first_line(tmp_path: Path) -> None:
    body = rows(
        "133273\t213221\t213222\tHow is the life of a math student?\tWhich level is enough? 0",
        "360472\t364011\t490273\tWhat causes stool color to change?\tWhat can cause that?\t0",
        "119056\t193387\t193388\tHow not to feel guilty?\tI don't believe it?\t1",
    )
    p = write(tmp_path, "glue-train-subset.tsv", body)
    assert detect_format(p) == "glue-qqp-headerless"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None and len(ds) == 2
    assert rep.dropped == {MALFORMED_LINE: 1}
    issue = rep.issues[0]
    assert issue.line == 1 and "5 field" in issue.detail and "space" in issue.detail
    assert list(ds.pair_id) == ["360472", "119056"]


def test_missing_field_is_malformed(tmp_path: Path) -> None:
    body = rows("0\t1\t2\tOnly one question?\t0", "1\t3\t4\tq a?\tq b?\t1")
    ds = read_pairs(write(tmp_path, "g.tsv", QQP_HEADER + body), "glue-qqp")
    assert ds.report is not None
    assert ds.report.lines_for(MALFORMED_LINE) == [2] and len(ds) == 1


# ---------------------------------------------------------------------- BiMPM, broken UTF-8
BIMPM = (
    b"1\tWhy my question was marked?\tHow can I ask \xe2\x80\x98need to improve\xe2\x80?\t120\n"
    b"0\tHow do headphones work?\tWhy don't phones have FM?\t211\n"
    b"1\tIs this caf\xc3\xa9 open?\tIs the caf\xc3\xa9 open now?\t18\n"
)


def test_bimpm_broken_utf8_dropped(tmp_path: Path) -> None:
    p = write(tmp_path, "bimpm.tsv", BIMPM)
    assert detect_format(p) == "bimpm"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None
    assert rep.rows_read == 3 and len(ds) == 2
    assert rep.lines_for(UNDECODABLE_BYTES) == [1]
    assert "\\xe2\\x80" in rep.issues[0].detail
    assert ds.text_a[1] == "Is this café open?"  # valid UTF-8 untouched
    # no ids in the source: stable hashes of the normalised text
    assert ds.id_a[0] == stable_text_id("How do headphones work?")
    assert list(ds.pair_id) == ["211", "18"]


def test_bimpm_broken_utf8_replaced(tmp_path: Path) -> None:
    ds = read_pairs(write(tmp_path, "bimpm.tsv", BIMPM), decode_errors="replace")
    assert ds.report is not None
    assert len(ds) == 3 and ds.report.lines_for(REPAIR_UNDECODABLE) == [1]
    assert "\ufffd" in ds.text_b[0]


def test_side_file_of_undecodable_rows_is_valid_utf8(tmp_path: Path, _cache: Path) -> None:
    ds = read_pairs(write(tmp_path, "bimpm.tsv", BIMPM))
    assert ds.report is not None and ds.report.side_file
    side = Path(ds.report.side_file)
    assert side.parent == _cache / "dropped"
    rec = json.loads(side.read_text(encoding="utf-8").splitlines()[0])
    assert rec["line"] == 1 and rec["reason"] == UNDECODABLE_BYTES
    assert "\\xe2\\x80" in rec["raw"]


# ---------------------------------------------------------------------- MRPC: BOM, stray quotes
MRPC = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + rows(
    "1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi accused him.",
    '1\t1355540\t1355592\tHe said it does not fit.\t"The pie business does not fit our plan.',
    '0\t2108705\t2108831\t"Quoted whole sentence."\tYucaipa bought it in 1995.',
)


def test_mrpc_bom_and_stray_quotes(tmp_path: Path) -> None:
    p = write(tmp_path, "msr_paraphrase_train.txt", MRPC)
    assert detect_format(p) == "mrpc"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None and len(ds) == 3
    assert rep.repaired == {REPAIR_BOM: 1}
    # MRPC quotes are raw text, never unquoted
    assert ds.text_b[1] == '"The pie business does not fit our plan.'
    assert ds.text_a[2] == '"Quoted whole sentence."'
    assert list(ds.id_a) == ["702876", "1355540", "2108705"]
    assert list(ds.label) == [1, 1, 0]


def test_mrpc_release_dir_split_by_dev_ids(tmp_path: Path) -> None:
    d = tmp_path / "mrpc"
    d.mkdir()
    write(d, "msr_paraphrase_train.txt", MRPC)
    write(d, "msr_paraphrase_test.txt", MRPC.replace("702876", "1"))
    write(d, "dev_ids.tsv", "1355540\t1355592\n")
    out = read_glue_dir(d, "mrpc")
    assert len(out["train"]) == 2 and len(out["dev"]) == 1 and len(out["test"]) == 3
    assert out["dev"].id_a[0] == "1355540"


# ---------------------------------------------------------------------- STS-B
def test_stsb_extra_columns_and_threshold(tmp_path: Path) -> None:
    body = rows(
        "main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane.",
        "main-captions\tMSRvid\t2012test\t0004\t3.800\tA man plays a flute.\tA man plays.",
        "main-news\theadlines\t2016\t0012\t4\tDriver backs\tDriver backs into mom\tsrc\tsrc",
        "main-news\theadlines\t2016\t0013\tn/a\tBad score here\tAnother sentence",
        "main-news\theadlines\t2016\t0014\t1.0\tToo few fields",
    )
    p = write(tmp_path, "sts-train.csv", body)
    assert detect_format(p) == "stsb"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None
    assert list(ds.label) == [1, 0, 1]
    assert rep.lines_for(REPAIR_EXTRA_COLUMNS) == [3]
    assert rep.lines_for(BAD_LABEL) == [4] and rep.lines_for(MALFORMED_LINE) == [5]
    assert ds.pair_id[0] == "MSRvid-2012test-0001"
    assert list(read_pairs(p, stsb_threshold=3.5).label) == [1, 1, 1]


# ---------------------------------------------------------------------- labels, self, duplicates
def test_label_two_and_duplicates_and_self_pairs(tmp_path: Path) -> None:
    body = rows(
        "0\t1\t2\tHow do I learn Python?\tHow can I learn Python fast?\t1",
        "1\t3\t4\tWhat is AI?\tWhat is ML?\t2",
        "2\t2\t1\tHow can I learn Python fast?\tHow do I learn Python?\t1",
        "3\t5\t6\tIs it  raining?\tis it raining? \t0",
        "4\t7\t8\tA?\tB?\tx",
        "5\t9\t10\tC?\tD?\t",
    )
    p = write(tmp_path, "g.tsv", QQP_HEADER + body)
    ds = read_pairs(p, "glue-qqp")
    rep = ds.report
    assert rep is not None and len(ds) == 1
    assert rep.lines_for(BAD_LABEL) == [3, 6, 7]
    assert rep.lines_for(DUPLICATE_PAIR) == [4]
    assert "line 2" in next(i.detail for i in rep.issues if i.reason == DUPLICATE_PAIR)
    assert rep.lines_for(SELF_PAIR) == [5]
    kept = read_pairs(p, "glue-qqp", drop_self_pairs=False, drop_duplicates=False)
    assert len(kept) == 3


def test_duplicate_pair_ids_made_unique(tmp_path: Path) -> None:
    body = rows("7\t1\t2\tq one?\tq two?\t1", "7\t3\t4\tq three?\tq four?\t0")
    ds = read_pairs(write(tmp_path, "g.tsv", QQP_HEADER + body), "glue-qqp")
    assert ds.report is not None
    assert list(ds.pair_id) == ["7", "7@3"]
    assert ds.report.lines_for(REPAIR_DUPLICATE_PAIR_ID) == [3]


# ---------------------------------------------------------------------- policy, side file
def test_policy_error_names_file_and_line(tmp_path: Path) -> None:
    body = rows("0\t1\t2\tq one?\tq two?\t1", "1\t3\t4\tWhat is AI?\tWhat is ML?\t2")
    p = write(tmp_path, "g.tsv", QQP_HEADER + body)
    with pytest.raises(DataError) as exc:
        read_pairs(p, policy="error")
    msg = str(exc.value)
    assert str(p) in msg and "line 3" in msg and BAD_LABEL in msg


def test_side_file_written_only_when_rows_dropped(tmp_path: Path, _cache: Path) -> None:
    clean = write(tmp_path, "clean.tsv", QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t1"))
    ds = read_pairs(clean)
    assert ds.report is not None and ds.report.side_file is None
    assert not (_cache / "dropped").exists() or not list((_cache / "dropped").iterdir())

    dirty = write(
        tmp_path, "dirty.tsv", QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t1", "1\t3\t4\ta\t\t0")
    )
    ds = read_pairs(dirty)
    assert ds.report is not None and ds.report.side_file is not None
    side = Path(ds.report.side_file)
    assert side.name.startswith("dirty.tsv.") and side.name.endswith(".dropped.jsonl")
    recs = [json.loads(x) for x in side.read_text(encoding="utf-8").splitlines()]
    assert recs == [
        {
            "line": 3,
            "reason": EMPTY_TEXT,
            "detail": "text_b is empty or missing",
            "raw": "1\t3\t4\ta\t\t0",
            "pair_id": "1",  # the row's own id (the side file joins back to the input)
        }
    ]
    explicit = tmp_path / "out" / "dropped.jsonl"
    read_pairs(dirty, side_file=explicit)
    assert explicit.is_file()
    ds = read_pairs(dirty, side_file=None)
    assert ds.report is not None and ds.report.side_file is None


def test_side_file_for_read_only_source(tmp_path: Path, _cache: Path) -> None:
    d = tmp_path / "ro"
    d.mkdir()
    p = write(d, "g.tsv", QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t7"))
    os.chmod(d, 0o555)
    try:
        ds = read_pairs(p)
    finally:
        os.chmod(d, 0o755)
    assert ds.report is not None and ds.report.side_file is not None
    assert Path(ds.report.side_file).parent == _cache / "dropped"


# ---------------------------------------------------------------------- file-level errors
def test_empty_file(tmp_path: Path) -> None:
    for content in ("", "\n\n  \n"):
        p = write(tmp_path, "empty.tsv", content)
        with pytest.raises(DataError, match="empty file") as exc:
            detect_format(p)
        assert str(p) in str(exc.value) and "glue-qqp" in str(exc.value)
        with pytest.raises(DataError, match="empty file"):
            read_pairs(p, "glue-qqp")


def test_binary_file(tmp_path: Path) -> None:
    p = write(tmp_path, "model.bin", bytes(range(256)) * 8)
    with pytest.raises(DataError, match="binary") as exc:
        detect_format(p)
    assert str(p) in str(exc.value)
    with pytest.raises(DataError, match="binary"):
        read_pairs(p, "tsv")
    z = write(tmp_path, "data.tsv", b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    with pytest.raises(DataError, match="compressed"):
        read_pairs(z)


def test_unknown_header_lists_formats(tmp_path: Path) -> None:
    p = write(tmp_path, "mystery", "foo|bar|baz\n1|2|3\n")
    with pytest.raises(DataError) as exc:
        detect_format(p)
    msg = str(exc.value)
    assert str(p) in msg and "quora" in msg and "parquet" in msg and "line 1" in msg


def test_missing_directory_and_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match="directory"):
        read_pairs(tmp_path)


def test_wrong_header_for_explicit_format(tmp_path: Path) -> None:
    p = write(tmp_path, "g.tsv", "a\tb\tc\td\te\tf\n" + rows("0\t1\t2\tq1?\tq2?\t1"))
    with pytest.raises(DataError, match=r"line 1: header"):
        read_pairs(p, "glue-qqp")


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    p = write(tmp_path, "x.parquet", b"PAR1" + b"garbage" * 50)
    with pytest.raises(DataError, match="Parquet") as exc:
        read_pairs(p)
    assert str(p) in str(exc.value)
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


# ---------------------------------------------------------------------- generic formats
def test_generic_csv_with_quotes_newlines_and_mapping(tmp_path: Path) -> None:
    content = (
        "left,right,gold,key\n"
        '"Hello, world","Hi, world",1,a\n'
        '"Multi\nline","Text with ""quotes""",0,b\n'
        "only,two\n"
        "x,y,5,c\n"
    )
    p = write(tmp_path, "pairs.csv", content)
    assert detect_format(p) == "csv"
    ds = read_pairs(
        p, columns={"text_a": "left", "text_b": "right", "label": "gold", "pair_id": "key"}
    )
    rep = ds.report
    assert rep is not None
    assert list(ds.text_a) == ["Hello, world", "Multi\nline"]
    assert ds.text_b[1] == 'Text with "quotes"'
    assert list(ds.pair_id) == ["a", "b"]
    assert rep.lines_for(REPAIR_EMBEDDED_NEWLINE) == [3]
    assert rep.lines_for(MALFORMED_LINE) == [5] and rep.lines_for(BAD_LABEL) == [6]


def test_generic_csv_unbalanced_quote(tmp_path: Path) -> None:
    short = write(tmp_path, "short.csv", 'text_a,text_b,label\n"a,b,1\nc,d,0\n')
    ds = read_pairs(short)
    assert ds.report is not None and len(ds) == 0
    issue = ds.report.issues[0]
    assert issue.line == 2 and issue.reason == MALFORMED_LINE and "spans lines 2-3" in issue.detail
    long = write(tmp_path, "long.csv", 'text_a,text_b,label\n"a,b,1\n' + "c,d,0\n" * 30)
    with pytest.raises(DataError, match=r"line 2: a quoted field .* unbalanced") as exc:
        read_pairs(long)
    assert str(long) in str(exc.value)


def test_generic_missing_text_column(tmp_path: Path) -> None:
    p = write(tmp_path, "pairs.csv", "question1,label\nhello,1\n")
    with pytest.raises(DataError) as exc:
        read_pairs(p)
    msg = str(exc.value)
    assert str(p) in msg and "text_b" in msg and "columns=" in msg
    with pytest.raises(DataError, match="not in the header"):
        read_pairs(p, columns={"text_a": "question1", "text_b": "nope"})


def test_generic_tsv_aliases_unlabelled(tmp_path: Path) -> None:
    p = write(tmp_path, "pairs.tsv", "sentence1\tsentence2\nA cat.\tA dog.\nB.\tC.\n")
    assert detect_format(p) == "tsv"
    ds = read_pairs(p)
    assert not ds.has_labels and list(ds.label) == [-1, -1]
    assert list(ds.pair_id) == ["2", "3"]  # line numbers when the source has no pair id


def test_jsonl(tmp_path: Path) -> None:
    lines = [
        json.dumps({"q1": "How old is the moon?", "q2": "Moon age?", "label": 1, "id": 10}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"q1": "Sky blue?", "q2": None, "label": 0, "id": 11}),
        json.dumps({"q1": "A?", "q2": "B?", "label": True, "id": 12}),
        json.dumps({"q1": "C?", "q2": "D?", "label": 2, "id": 13}),
        json.dumps({"q1": 5, "q2": "D?", "label": 0, "id": 14}),
    ]
    p = write(tmp_path, "pairs.jsonl", "\n".join(lines) + "\n")
    assert detect_format(p) == "jsonl"
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None
    assert list(ds.pair_id) == ["10", "12"] and list(ds.label) == [1, 1]
    assert rep.lines_for(MALFORMED_LINE) == [2, 3, 7]
    assert rep.lines_for(EMPTY_TEXT) == [4] and rep.lines_for(BAD_LABEL) == [6]


def test_parquet_round_trip(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {"text_a": ["a b?", "c d?", None], "text_b": ["x y?", "z?", "w?"], "label": [1, 0, 1]}
    )
    p = tmp_path / "pairs.parquet"
    df.to_parquet(p)
    assert detect_format(p) == "parquet"
    ds = read_pairs(p)
    assert ds.report is not None
    assert list(ds.text_a) == ["a b?", "c d?"] and ds.report.lines_for(EMPTY_TEXT) == [3]


def test_crlf_line_endings(tmp_path: Path) -> None:
    body = (QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t1", "1\t3\t4\tq3?\tq4?\t0")).replace("\n", "\r\n")
    ds = read_pairs(write(tmp_path, "g.tsv", body))
    assert list(ds.label) == [1, 0] and ds.text_b[1] == "q4?"


# ---------------------------------------------------------------------- GLUE directory
def test_read_glue_dir_qqp(tmp_path: Path) -> None:
    d = tmp_path / "QQP"
    d.mkdir()
    write(d, "train.tsv", QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t1", "1\t3\t4\tq3?\tq4?\t0"))
    write(d, "dev.tsv", QQP_HEADER + rows("2\t5\t6\tq5?\tq6?\t0"))
    write(d, "test.tsv", "id\tquestion1\tquestion2\n" + rows("0\tt1?\tt2?", "1\tt3?\tt4?"))
    out = read_glue_dir(tmp_path, "qqp")
    assert set(out) == {"train", "dev", "test"}
    assert out["train"].has_labels and len(out["dev"]) == 1
    assert not out["test"].has_labels and len(out["test"]) == 2
    assert detect_format(d / "test.tsv") == "glue-qqp-test"
    assert detect_format(d / "train.tsv") == "glue-qqp"
    with pytest.raises(DataError, match="no GLUE"):
        read_glue_dir(tmp_path / "QQP" / ".." / "QQP" / "..", "mrpc")


# ---------------------------------------------------------------------- helpers agree with pairs.py
@pytest.mark.parametrize(
    "text",
    ["How do I?", "  Tabs\tand\nnewlines  ", "ÉCOLE ﬁnance", "ＡＢＣ full width", "x\x1cy", ""],
)
def test_fast_normalisation_matches_pairs(text: str) -> None:
    assert normalize_text_fast(text) == normalize_text(text)
    assert text_id_from_normal_form(normalize_text(text)) == stable_text_id(text)


def test_unquote() -> None:
    assert R._unquote('"a ""b"" c"') == 'a "b" c'
    assert R._unquote('"a "b" c"') == '"a "b" c"'  # not well formed: kept
    assert R._unquote('"open') == '"open'
    assert R._unquote('""') == ""


def test_dataset_is_a_pairdataset(tmp_path: Path) -> None:
    ds = read_pairs(write(tmp_path, "g.tsv", QQP_HEADER + rows("0\t1\t2\tq1?\tq2?\t1")), name="n")
    assert isinstance(ds, PairDataset) and ds.name == "n"
    assert ds.label.dtype == np.int8 and ds.text_a.dtype == object


# ---------------------------------------------------------------------- shared data (integration)
def _shared() -> Path:
    env = os.environ.get("PAIRLM_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    return root.resolve()


def _need(rel: str) -> Path:
    p = _shared() / rel
    if not p.is_file():
        pytest.skip(f"shared data file {p} is absent")
    return p


@pytest.mark.integration
def test_shared_glue_train_subset() -> None:
    p = _need("qqp/glue-train-subset.tsv")
    ds = read_pairs(p)
    rep = ds.report
    assert rep is not None and rep.format == "glue-qqp-headerless"
    assert rep.rows_read == 23_497
    assert rep.lines_for(MALFORMED_LINE) == [1]
    # three pairs whose two questions differ only by a trailing space are self-pairs
    assert rep.dropped == {MALFORMED_LINE: 1, SELF_PAIR: 3}
    assert len(ds) == 23_493
    assert len(read_pairs(p, drop_self_pairs=False)) == 23_496


@pytest.mark.integration
def test_shared_bimpm() -> None:
    ds = read_pairs(_need("qqp/bimpm-dev-balanced.tsv"))
    rep = ds.report
    assert rep is not None and rep.format == "bimpm" and rep.rows_read == 10_000
    # rows holding bytes that are not valid UTF-8 (a strict decode finds 83 such rows)
    assert rep.dropped[UNDECODABLE_BYTES] == 83
    assert len(ds) == 10_000 - rep.rows_dropped
    assert (
        len(
            read_pairs(
                _need("qqp/bimpm-dev-balanced.tsv"), decode_errors="replace", drop_self_pairs=False
            )
        )
        == 10_000
    )


@pytest.mark.integration
@pytest.mark.parametrize("split,n", [("train", 4_076), ("test", 1_725)])
def test_shared_mrpc(split: str, n: int) -> None:
    ds = read_pairs(_need(f"mrpc/msr_paraphrase_{split}.txt"))
    assert ds.report is not None and ds.report.format == "mrpc"
    assert ds.report.rows_read == n and len(ds) == n
    assert ds.report.repaired[REPAIR_BOM] == 1


@pytest.mark.integration
def test_shared_mrpc_glue_split() -> None:
    _need("mrpc/dev_ids.tsv")
    out = read_glue_dir(_shared() / "mrpc", "mrpc")
    assert (len(out["train"]), len(out["dev"]), len(out["test"])) == (3_668, 408, 1_725)


@pytest.mark.integration
@pytest.mark.parametrize("split,n", [("train", 5_749), ("dev", 1_500), ("test", 1_379)])
def test_shared_stsb(split: str, n: int) -> None:
    ds = read_pairs(_need(f"stsb/sts-{split}.csv"))
    rep = ds.report
    assert rep is not None and rep.format == "stsb" and rep.rows_read == n
    assert rep.repaired[REPAIR_EXTRA_COLUMNS] > 0
    assert len(ds) == n - rep.rows_dropped
