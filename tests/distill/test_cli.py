"""`pairlm distill`: the student saved to --out as a plain model of its family with its report,
a rerun served from the teacher-score cache, one-line errors naming the flag or file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairlm.cli import main
from pairlm.models.lexical import LexicalClassifier
from pairlm.models.registry import load_model
from tests.conftest import make_toy_pairs

TINY = ["--set", "max_word_features=500", "--set", "max_char_features=500", "--set", "n_bins=4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("distill-cli")
    train, valid = make_toy_pairs(80, seed=1), make_toy_pairs(30, seed=2)
    for name, ds in (("train", train), ("valid", valid)):
        ds.to_frame().to_json(d / f"{name}.jsonl", orient="records", lines=True)
    with (d / "train.jsonl").open("a") as fh:  # one bad row: dropped, and reported
        fh.write('{"text_a": "", "text_b": "x", "label": 1}\n')
    LexicalClassifier(max_word_features=500, max_char_features=500, n_bins=4).fit(
        train, valid
    ).save(d / "teacher")
    return {
        "dir": d,
        "train": d / "train.jsonl",
        "valid": d / "valid.jsonl",
        "teacher": d / "teacher",
    }


def _argv(files: dict[str, Path], out: Path, *more: str) -> list[str]:
    return [
        "distill",
        "--teacher", str(files["teacher"]),
        "--data", str(files["train"]),
        "--valid", str(files["valid"]),
        "--student", "lexical",
        *TINY,
        "--samplers", "bm25=1,random=0.5",
        "--out", str(out),
        "--no-progress",
        *more,
    ]  # fmt: skip


def test_distill_writes_a_plain_student_and_its_report(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "student"
    assert main(_argv(files, out)) == 0
    printed = json.loads(capsys.readouterr().out)
    model = load_model(out)
    assert type(model) is LexicalClassifier and model.config.max_word_features == 500
    report = json.loads((out / "distill.json").read_text())
    n = report["gold_pairs"]  # the reader drops the bad row and repeated pairs
    assert n == report["data"]["train"]["pairs"] < 80
    assert report["data"]["train"]["rows_dropped"] == 81 - n
    assert printed["pairs"] == report["silver"]["pairs"] == {"bm25": n, "random": round(n / 2)}
    assert report["teacher"]["model_dir"] == str(files["teacher"])
    assert 0 < report["silver"]["positive_rate"] < 1
    assert report["scored_now"] == report["silver"]["total"]
    assert (out / "silver.tsv").is_file() and (out / "teacher-scores").is_dir()
    assert main(_argv(files, out, "--labels", "hard")) == 0  # the cache answers the teacher
    capsys.readouterr()
    again = json.loads((out / "distill.json").read_text())
    assert again["scored_now"] == 0 and again["labels_used"] == "hard"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--teacher": "nowhere"}, "error: --teacher nowhere: "),
        ({"--student": "nope"}, "error: --student: unknown student family 'nope'"),
        ({"--student": "distill"}, "error: --student: unknown student family 'distill'"),
        ({"--samplers": "bm25"}, "error: --samplers expects NAME=MULTIPLE"),
        ({"--samplers": "knn=1"}, "error: distill: samplers: unknown sampler(s) knn"),
        ({"--set": "nokey=1"}, "error: --config/--set: student.config: unknown key(s)"),
        ({"--data": "missing.tsv"}, "missing.tsv"),
        ({"--batch-size": "0"}, "error: --batch-size must be at least 1"),
        ({"--address": "auto"}, "error: --address is for --backend ray"),
    ],
)
def test_errors_are_one_line_naming_the_flag(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    argv = _argv(files, tmp_path / "out")
    for flag, value in change.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out" / "pairlm_model.json").exists()


def test_help_names_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    text = capsys.readouterr().out
    for flag in ("--teacher", "--data", "--student", "--config", "--set", "--out", "--samplers",
                 "--labels", "--backend"):  # fmt: skip
        assert flag in text
