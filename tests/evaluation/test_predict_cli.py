"""`pairlm predict` answers every input row, in input order (the every-row contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairlm.cli import main
from pairlm.data import read_pairs
from tests.conftest import make_toy_pairs

SEVEN = (
    "question1\tquestion2\tis_duplicate\n"
    "How do I learn Python?\tHow do I learn Python?\t1\n"  # a self-pair
    "What is AI?\tWhat is artificial intelligence?\t1\n"
    "What is AI?\tWhat is artificial intelligence?\t1\n"  # a repeated pair
    "Is tea healthy?\tIs coffee healthy?\tyes\n"  # a label that is not 0/1
    "How to cook rice?\tBest way to cook rice?\t2\n"  # another
    "\tWhat is love?\t0\n"  # an empty text: cannot be scored
    "Where is Paris?\tWhere is France?\t\n"  # no label
)


@pytest.fixture(scope="module")
def lexical_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pairlm.models.lexical import LexicalClassifier

    d = tmp_path_factory.mktemp("lex") / "model"
    LexicalClassifier(max_word_features=500, max_char_features=500, n_bins=4).fit(
        make_toy_pairs(80, seed=1)
    ).save(d)
    return d


def test_every_row_answered_in_order(
    lexical_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "seven.tsv"
    data.write_text(SEVEN)
    out = tmp_path / "preds.tsv"
    rc = main(["predict", str(lexical_dir), "--data", str(data), "--out", str(out)])
    assert rc == 3  # one row could not be scored
    rows = [ln.split("\t") for ln in out.read_text().splitlines()]
    assert rows[0] == ["line", "pair_id", "proba", "prediction", "status", "reason"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == [2, 3, 4, 5, 6, 7, 8]
    status = [r[4] for r in body]
    assert status == ["scored"] * 5 + ["unscored", "scored"]
    assert body[5][2] == "" and body[5][5] == "empty_text"
    assert body[1][2] == body[2][2]  # the repeated pair is scored each time, the same
    assert all(0.0 <= float(r[2]) <= 1.0 for r in body if r[4] == "scored")
    err = capsys.readouterr().err
    assert "7 rows: 6 scored, 1 unscored (empty_text)" in err
    assert not list(tmp_path.glob(".preds.tsv.tmp"))


ROWS_WITH_IDS = [  # (id, text_a, text_b, label): row 6 has an empty text, row 7 no label
    ("1", "How do I learn Python?", "How do I learn Python?", "1"),
    ("2", "What is AI?", "What is artificial intelligence?", "1"),
    ("3", "What is AI?", "What is artificial intelligence?", "1"),
    ("4", "Is tea healthy?", "Is coffee healthy?", "yes"),
    ("5", "How to cook rice?", "Best way to cook rice?", "0"),
    ("6", "", "One side is empty", "0"),
    ("7", "What is the last row?", "Which row is the last?", None),
]


def _write_with_ids(path: Path) -> None:
    import json

    if path.suffix == ".tsv":  # row 7 leaves its label field off altogether
        body = ["\t".join(x for x in r if x is not None) for r in ROWS_WITH_IDS]
        path.write_text("id\ttext_a\ttext_b\tlabel\n" + "\n".join(body) + "\n")
    elif path.suffix == ".csv":
        import csv

        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text_a", "text_b", "label"])
            w.writerows([[x or "" for x in r] for r in ROWS_WITH_IDS])
    elif path.suffix == ".jsonl":
        keys = ("id", "text_a", "text_b", "label")
        path.write_text(
            "".join(
                json.dumps({k: v for k, v in zip(keys, r) if v is not None}) + "\n"
                for r in ROWS_WITH_IDS
            )
        )
    else:
        import pandas as pd

        pd.DataFrame(ROWS_WITH_IDS, columns=["id", "text_a", "text_b", "label"]).to_parquet(path)


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl", ".parquet"])
def test_every_output_row_keeps_the_inputs_own_id(
    lexical_dir: Path, tmp_path: Path, suffix: str
) -> None:
    """Scored or not, each output row carries the input row's id, so it joins back by id."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    data = tmp_path / f"seven{suffix}"
    _write_with_ids(data)
    out = tmp_path / "preds.tsv"
    assert main(["predict", str(lexical_dir), "--data", str(data), "--out", str(out)]) == 3
    body = [ln.split("\t") for ln in out.read_text().splitlines()[1:]]
    assert [r[1] for r in body] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [r[4] for r in body] == ["scored"] * 5 + ["unscored", "scored"]
    assert body[5][5] == "empty_text"


def test_a_malformed_row_keeps_its_id_where_it_has_one(lexical_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text("id\ttext_a\ttext_b\tlabel\nq1\ta\tb\t1\nq2\tonly one text\nq3\tc\td\t0\n")
    out = tmp_path / "preds.tsv"
    assert main(["predict", str(lexical_dir), "--data", str(data), "--out", str(out)]) == 3
    body = [ln.split("\t") for ln in out.read_text().splitlines()[1:]]
    assert [(r[1], r[4], r[5]) for r in body] == [
        ("q1", "scored", ""),
        ("q2", "unscored", "malformed_line"),
        ("q3", "scored", ""),
    ]


def test_training_reads_still_drop_self_pairs_and_bad_labels(tmp_path: Path) -> None:
    data = tmp_path / "seven.tsv"
    data.write_text(SEVEN)
    train = read_pairs(data, side_file=None)
    assert len(train) == 1 and train.report is not None
    assert dict(train.report.dropped) == {
        "self_pair": 1,
        "duplicate_pair": 1,
        "bad_label": 3,
        "empty_text": 1,
    }
    score = read_pairs(data, side_file=None, scoring=True)
    assert score.report is not None and score.report.kept_lines == [2, 3, 4, 5, 6, 8]
    assert dict(score.report.repaired) == {"label_ignored": 3}
    assert list(score.label) == [1, 1, 1, -1, -1, -1]


# ---------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small_tsv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toy = make_toy_pairs(60, seed=3)
    p = tmp_path_factory.mktemp("data") / "small.tsv"
    rows = ["question1\tquestion2\tis_duplicate"]
    rows += [f"{a}\t{b}\t{y}" for a, b, y in zip(toy.text_a, toy.text_b, toy.label)]
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--folds", "400"], r"--folds 400: cannot cut \d+ pairs into 400 folds"),
        (["--folds", "45"], r"--folds 45: stratified 45-fold needs at least 45 pairs of each"),
        (["--folds", "3", "--fold-ids", "7"], r"--fold-ids 7: fold\(s\) \[7\] out of range"),
    ],
)
def test_cv_bad_folds_end_in_one_line_and_leave_no_store(
    small_tsv: Path, tmp_path: Path, args: list[str], match: str
) -> None:
    out = tmp_path / "cv"
    with pytest.raises(SystemExit, match=match):
        main(["cv", "--data", str(small_tsv), "--model", "lexical", "--out", str(out), *args])
    assert not out.exists()


def test_cv_unknown_model_refused_before_the_data_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "does-not-exist.tsv"  # never opened
    rc = main(["cv", "--data", str(missing), "--model", "nosuch", "--out", str(tmp_path / "o")])
    assert rc == 2 and "unknown model family 'nosuch'" in capsys.readouterr().err


def test_inspect_a_megabyte_first_line_without_tabs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 1_000_000 + "\n")
    assert main(["data", "inspect", str(big)]) == 2
    err = capsys.readouterr().err
    assert "cannot tell the format" in err and "--format" in err


def test_jsonl_with_a_two_megabyte_first_object_is_detected(tmp_path: Path) -> None:
    import json

    p = tmp_path / "big.jsonl"
    first = {"question1": "a " * 1_000_000, "question2": "b", "is_duplicate": 1}
    p.write_text(json.dumps(first) + "\n" + json.dumps({"question1": "c", "question2": "d"}))
    assert main(["data", "inspect", str(p)]) == 0


def test_columns_flag_maps_other_names(tmp_path: Path, lexical_dir: Path) -> None:
    p = tmp_path / "custom.csv"
    p.write_text("question,candidate,is_dup\nhow to learn python,best way to learn python,1\n")
    out = tmp_path / "p.tsv"
    args = ["predict", str(lexical_dir), "--data", str(p), "--out", str(out)]
    assert main([*args, "--columns", "text_a=question,text_b=candidate,label=is_dup"]) == 0
    assert out.read_text().count("\tscored\t") == 1
    with pytest.raises(SystemExit, match="--columns expects FIELD=COLUMN"):
        main([*args, "--columns", "question"])
