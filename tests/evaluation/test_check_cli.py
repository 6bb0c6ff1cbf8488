"""`pairlm check MODEL_DIR` and `[check]` in an experiment file (with the report's behaviour
section), on tiny in-process models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairlm.cli import main
from pairlm.errors import ConfigError
from pairlm.experiments.runner import parse_experiment, run_experiment
from pairlm.models.lexical import LexicalClassifier
from tests.conftest import make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("check") / "lexical"
    LexicalClassifier(**TINY).fit(make_toy_pairs(120)).save(d)
    return d


def test_check_json_lists_every_test_with_its_failure_rate(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["check", str(model_dir), "--json", "--n", "100", "--out", str(tmp_path / "o")])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"]["family"] == "lexical"
    assert doc["suite"] == {"n": 100, "seed": 0, "tolerance": 0.1}
    assert len(doc["tests"]) >= 10
    for t in doc["tests"]:
        assert t["kind"] in ("mft", "inv", "dir") and t["n"] == 100
        assert 0.0 <= t["failure_rate"] <= 1.0
        assert t["failures"] == round(t["failure_rate"] * 100)
        assert len(t["examples"]) == min(3, t["failures"])
    assert set(doc["summary"]) >= {"mft_mean_failure_rate", "symmetry_failure_rate"}
    assert json.loads((tmp_path / "o" / "check.json").read_text()) == doc
    md = (tmp_path / "o" / "check.md").read_text()
    assert "| mft_negation | mft | negation: auxiliary | seen | 100 |" in md
    assert "| mft_modifier | mft | modifier | unseen | 100 |" in md and "(unseen): mft" in md


def test_check_text_output(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = "mft_identity,inv_typo,mft_modifier"
    assert main(["check", str(model_dir), "--n", "100", "--tests", tests]) == 0
    out = capsys.readouterr().out
    assert "mft_identity" in out and "inv_typo" in out and "mean failure rate" in out
    assert "(unseen)" in out and "mft unseen" in out  # mft_modifier: no augmentation covers it


def test_check_bad_arguments_are_one_line_errors(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a saved pairlm model" in err
    with pytest.raises(SystemExit, match="--n must be at least 100"):
        main(["check", str(model_dir), "--n", "10"])
    with pytest.raises(SystemExit, match="--tests: unknown test"):
        main(["check", str(model_dir), "--tests", "mft_nope"])


def _exp(tmp_path: Path, check: str) -> Path:
    make_toy_pairs(90).to_frame().to_json(tmp_path / "pairs.jsonl", orient="records", lines=True)
    cfg = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    f = tmp_path / "exp.toml"
    f.write_text(
        '[experiment]\nname = "t"\n[data]\ndataset = "pairs.jsonl"\n[protocol]\nfolds = 2\n'
        f'[[runs]]\nname = "lexical"\nmodel = "lexical"\n[runs.config]\n{cfg}\n'
        f'[[runs]]\nname = "aug"\nmodel = "lexical"\n[runs.config]\n{cfg}\n'
        'augment = ["negation"]\naugment_ratio = 0.5\n'
        f"{check}",
        encoding="utf-8",
    )
    return f


def test_experiment_check_writes_files_and_the_report_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _exp(tmp_path, "[check]\nn = 100\n")
    out = tmp_path / "runs"
    run_experiment(f, out, progress=False)
    files = sorted(p.name for p in (out / "behaviour").glob("*.json"))
    assert files == ["aug.json", "lexical.json"]
    doc = json.loads((out / "behaviour" / "aug.json").read_text())
    assert doc["fold"] == 0 and doc["augmented"]["negation"] > 0 and len(doc["tests"]) >= 10
    mtime = (out / "behaviour" / "lexical.json").stat().st_mtime_ns
    run_experiment(f, out, progress=False)  # nothing left to do: not checked again
    assert (out / "behaviour" / "lexical.json").stat().st_mtime_ns == mtime
    pub = tmp_path / "pub"
    assert (
        main(["report", str(out), "--json", "-q", "--out", str(pub), "--runs", "lexical,aug"]) == 0
    )
    md = (pub / "report.md").read_text()
    assert "## Behaviour" in md and "| aug | lexical | negation ×0.5 |" in md
    assert "### Robustness and its cost" in md
    summary = json.loads((pub / "summary.json").read_text())
    assert {b["run"] for b in summary["behaviour"]} == {"lexical", "aug"}
    assert {r["run"] for r in summary["robustness"]} == {"lexical", "aug"}
    assert all("mft_unseen" in r and r["f1_ci"] for r in summary["robustness"])
    assert (pub / "behaviour" / "aug.json").is_file()
    html = (pub / "report.html").read_text()
    assert "<h2>Behaviour</h2>" in html and "mft_negation" in html


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("[check]\nfoo = 1\n", "unknown key"),
        ("[check]\nn = 10\n", "at least 100"),
        ('[check]\nruns = ["nope"]\n', "names no [[runs]] entry nope"),
        ("[check]\nfold = 5\n", "`fold` must be in 0..1"),
        ('[check]\ntolerance = "x"\n', "tolerance"),
    ],
)
def test_check_table_errors_name_the_key(tmp_path: Path, check: str, message: str) -> None:
    import tomllib

    f = _exp(tmp_path, check)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_experiment(tomllib.loads(f.read_text()), f)


def test_shipped_behaviour_experiment_validates() -> None:
    from pairlm.experiments.runner import load_experiment
    from tests.conftest import REPO_ROOT

    exp = load_experiment(REPO_ROOT / "experiments" / "behaviour.toml")
    qqp = load_experiment(REPO_ROOT / "experiments" / "qqp-cv.toml")
    assert exp.check is not None and exp.check.fold == 0 and exp.check.n >= 100
    assert (exp.dataset, exp.dataset_name, exp.protocol) == (
        qqp.dataset,
        qqp.dataset_name,
        qqp.protocol,
    )  # the same folds as the qqp-cv comparison
    runs = {r.name: r.config for r in exp.runs}
    assert not runs["lexical"].get("augment") and runs["lexical-augmented"]["augment"]
