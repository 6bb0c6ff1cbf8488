from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pairlm.cli import main
from pairlm.evaluation.glue import SUBMISSION_HEADER, run_glue, write_submission
from pairlm.models.registry import load_model
from tests.conftest import make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


def _write_qqp_dir(
    d: Path, train_rows: list[tuple], dev_rows: list[tuple], test_rows: list[tuple]
) -> Path:
    """A GLUE QQP folder: train/dev with `id qid1 qid2 question1 question2 is_duplicate`,
    test with `id question1 question2`."""
    d.mkdir(parents=True, exist_ok=True)
    head = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    for name, rows in (("train", train_rows), ("dev", dev_rows)):
        with (d / f"{name}.tsv").open("w", encoding="utf-8") as fh:
            fh.write(head)
            for r in rows:
                fh.write("\t".join(str(x) for x in r) + "\n")
    with (d / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("id\tquestion1\tquestion2\n")
        for r in test_rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    return d


def _toy_rows(n: int, seed: int, start: int) -> list[tuple]:
    ds = make_toy_pairs(n, seed=seed)
    return [
        (start + i, 2 * (start + i), 2 * (start + i) + 1, a, b, int(y))
        for i, (a, b, y) in enumerate(zip(ds.text_a, ds.text_b, ds.label))
    ]


def _read_submission(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_submission_has_a_line_per_test_pair_in_order(tmp_path: Path) -> None:
    train = _toy_rows(120, 0, 0)
    dev = _toy_rows(40, 1, 1000)
    test_src = _toy_rows(50, 2, 0)
    test = [(i, a, b) for i, (_, _, _, a, b, _) in enumerate(test_src)]
    test.append((50, "how do i learn python fast?", "how do i learn python fast?"))  # self-pair
    test.append((51, "", "an empty question"))  # unreadable: still gets a line
    d = _write_qqp_dir(tmp_path / "QQP", train, dev, test)
    res = run_glue("qqp", d, "lexical", TINY, tmp_path / "out")
    sub = _read_submission(tmp_path / "out" / "QQP.tsv")
    assert "\t".join(sub[0]) == SUBMISSION_HEADER == "index\tprediction"
    assert len(sub) - 1 == len(test) == res.n_test
    assert [int(r[0]) for r in sub[1:]] == list(range(len(test)))
    assert {r[1] for r in sub[1:]} <= {"0", "1"}
    assert res.test_filled == 1
    assert 0.0 <= res.dev["f1"] <= 1.0 and 0.0 <= res.dev["accuracy"] <= 1.0
    assert res.dev["n"] == len(dev)
    assert res.n_train + res.n_valid <= len(train)
    # the saved model reproduces the submission
    model = load_model(tmp_path / "out" / "model")
    from pairlm.data.readers import read_pairs

    t = read_pairs(d / "test.tsv", drop_self_pairs=False, drop_duplicates=False, side_file=None)
    pred = model.predict(t)
    got = {int(r[0]): int(r[1]) for r in sub[1:]}
    assert [got[int(p)] for p in t.pair_id] == pred.tolist()
    saved = json.loads((tmp_path / "out" / "glue_results.json").read_text())
    assert saved["task"] == "qqp" and saved["submission"].endswith("QQP.tsv")


def test_dev_and_test_pairs_are_held_out_from_training(tmp_path: Path, monkeypatch) -> None:
    """As in cross-validation, the model is told before `fit` which pairs it must not train
    on or score while fitting (what the distill family's silver pairs leave out)."""
    from pairlm.models.base import PairClassifier

    train, dev = _toy_rows(120, 0, 0), _toy_rows(40, 1, 1000)
    test = [(i, a, b) for i, (_, _, _, a, b, _) in enumerate(_toy_rows(30, 2, 5000))]
    d = _write_qqp_dir(tmp_path / "QQP", train, dev, test)
    calls: list[tuple[set, bool]] = []
    real_hold, real_fit = PairClassifier.hold_out, PairClassifier.fit

    def hold(self, pairs):
        calls.append((set(zip(pairs.text_a, pairs.text_b)), False))
        return real_hold(self, pairs)

    def fit(self, *a, **k):
        calls.append((set(), True))
        return real_fit(self, *a, **k)

    monkeypatch.setattr(PairClassifier, "hold_out", hold)
    monkeypatch.setattr(PairClassifier, "fit", fit)
    run_glue("qqp", d, "lexical", TINY, tmp_path / "out", save_model=False)
    assert [is_fit for _, is_fit in calls] == [False, True]  # held out before fitting
    held = calls[0][0]
    assert {(r[3], r[4]) for r in dev} <= held
    assert {(r[1], r[2]) for r in test} <= held


def test_write_submission_fills_missing_rows(tmp_path: Path) -> None:
    n = write_submission(tmp_path / "s.tsv", np.array([2, 0]), np.array([1, 0]), 4, fill=1)
    assert n == 2
    assert _read_submission(tmp_path / "s.tsv") == [
        ["index", "prediction"],
        ["0", "0"],
        ["1", "1"],
        ["2", "1"],
        ["3", "1"],
    ]


def test_bad_task_and_config_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task"):
        run_glue("sst2", tmp_path, "lexical", TINY, tmp_path / "o")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="nope"):
        run_glue("qqp", tmp_path, "lexical", {"nope": 1}, tmp_path / "o")


@pytest.mark.integration
def test_glue_cli_on_a_directory_built_from_shared_qqp(tmp_path: Path, shared_data: Path) -> None:
    """train/dev/test cut from the shared QQP subset; `pairlm glue` writes one line per test pair."""
    rows = []
    with (shared_data / "qqp" / "glue-train-subset.tsv").open(encoding="utf-8") as fh:
        for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(r) == 6 and r[5] in ("0", "1"):
                rows.append(tuple(r))
            if len(rows) >= 1500:
                break
    train, dev, test = rows[:1000], rows[1000:1200], rows[1200:1500]
    test_rows = [(i, r[3], r[4]) for i, r in enumerate(test)]
    d = _write_qqp_dir(tmp_path / "glue" / "QQP", train, dev, test_rows)
    out = tmp_path / "out"
    args = [
        "glue",
        "--task",
        "qqp",
        "--glue-dir",
        str(d.parent),
        "--model",
        "lexical",
        "--out",
        str(out),
    ] + [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
    assert main(args) == 0
    sub = _read_submission(out / "QQP.tsv")
    assert sub[0] == ["index", "prediction"]
    assert len(sub) - 1 == len(test_rows)
    res = json.loads((out / "glue_results.json").read_text())
    assert res["dev"]["f1"] > 0.4  # learns something on real data
    assert (out / "model" / "pairlm_model.json").is_file()


@pytest.mark.integration
def test_glue_mrpc_from_the_original_release(tmp_path: Path, shared_data: Path) -> None:
    """MRPC's original release (train split by GLUE's dev ids; labelled test)."""
    res = run_glue("mrpc", shared_data / "mrpc", "lexical", TINY, tmp_path / "out", side_file=None)
    sub = _read_submission(tmp_path / "out" / "MRPC.tsv")
    assert len(sub) - 1 == 1725 == res.n_test
    assert res.dev["n"] == 408
    assert 0.0 < res.test_labelled["f1"] <= 1.0
