"""A `distill` run of an experiment file whose teacher is another run of the file
(`teacher = "RUN"`): in every fold the teacher is that fold's own model, and no test pair of
the fold is scored by the teacher or seen by the student."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pairlm.distill.sampling import pair_key, pair_keys
from pairlm.distill.teacher import trained_fingerprint
from pairlm.evaluation import cv
from pairlm.evaluation.store import ResultStore
from pairlm.experiments.runner import load_experiment, run_experiment
from pairlm.models.base import ConfigError
from pairlm.models.lexical import LexicalConfig
from tests.conftest import make_toy_pairs

TINY = "{ max_word_features = 500, max_char_features = 500, n_bins = 4 }"


def _exp(tmp_path: Path, runs: str, folds: int = 3) -> Path:
    make_toy_pairs(150, seed=0).to_frame().to_json(
        tmp_path / "pairs.jsonl", orient="records", lines=True
    )
    f = tmp_path / "exp.toml"
    f.write_text(
        f'[experiment]\nname = "d"\n[data]\ndataset = "pairs.jsonl"\n'
        f"[protocol]\nfolds = {folds}\n{runs}",
        encoding="utf-8",
    )
    return f


def _teacher_run(name: str = "teacher", more: str = "") -> str:
    return f'[[runs]]\nname = "{name}"\nmodel = "lexical"\n{more}\nconfig = {TINY}\n'


def _distill_run(tmp_path: Path, teacher: str = "teacher", more: str = "") -> str:
    return (
        f'[[runs]]\nname = "student"\nmodel = "distill"\nteacher = "{teacher}"\n{more}\n'
        f"[runs.config]\n"
        f'student = {{ family = "lexical", config = {TINY} }}\n'
        f"samplers = {{ bm25 = 2.0, random = 3.0 }}\n"
        f'cache_dir = "{tmp_path / "cache"}"\n'
    )


def test_no_test_pair_of_a_fold_is_in_its_silver_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 42's proof: run every fold of a distill run; for each fold, none of its test
    pairs, in either order, is among the silver pairs its teacher scored and its student
    trained on, and the teacher was fitted on that fold's training part only."""
    seen: dict[int, tuple[Any, Any, Any, Any]] = {}
    real = cv.evaluate_fold

    def spy(model, fold, train, valid, test_idx, test, fit_seconds):  # type: ignore[no-untyped-def]
        if model.family == "distill":
            seen[fold] = (model, train, valid, test)
        return real(model, fold, train, valid, test_idx, test, fit_seconds)

    monkeypatch.setattr(cv, "evaluate_fold", spy)
    f = _exp(tmp_path, _teacher_run() + _distill_run(tmp_path))
    exp = load_experiment(f)
    assert exp.runs[1].config["teacher"] == {
        "family": "lexical",
        "config": {"max_word_features": 500, "max_char_features": 500, "n_bins": 4},
    }
    run_experiment(exp, tmp_path / "out", progress=False)
    assert sorted(seen) == [0, 1, 2]
    needed = 0
    for fold, (model, train, valid, test) in seen.items():
        test_keys = pair_keys(test)
        silver = model.silver_
        silver_keys = {pair_key(a, b) for a, b in zip(silver.text_a, silver.text_b)}
        assert len(silver_keys) == model.summary_["silver"]["total"] > 100
        assert not silver_keys & test_keys, f"fold {fold}: a test pair is in the silver set"
        assert not silver_keys & (pair_keys(train) | pair_keys(valid))
        assert model.summary_["held_out_pairs"] == len(test)
        # every pair the teacher ever scored for this fold (its cache): no test pair either
        fp = trained_fingerprint(
            "lexical", LexicalConfig(**model.config.teacher["config"]), train, valid
        )
        assert model.summary_["teacher"]["fingerprint"] == fp  # the fold's own teacher
        with sqlite3.connect(tmp_path / "cache" / f"teacher-{fp}.sqlite") as con:
            scored = {pair_key(a, b) for a, b in con.execute("SELECT text_a, text_b FROM scores")}
        assert scored == silver_keys
        # the guard matters: test pairs whose two texts are training texts could be drawn
        texts = {t for k in pair_keys(train) for t in k}
        needed += sum(1 for a, b in test_keys if a in texts and b in texts)
    assert needed > 0
    with ResultStore(tmp_path / "out") as store:
        assert {r.name for r in store.runs()} == {"teacher", "student"}
        run = store.get_run("student")
        assert run is not None and store.finished_folds(run.run_id) == {0, 1, 2}


@pytest.mark.slow
def test_the_teacher_resumes_its_runs_finished_trainings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.models.tiny_biencoder import make_tiny_bert

    bert = make_tiny_bert(tmp_path / "bert")
    ce = (
        f'[[runs]]\nname = "ce"\nmodel = "crossencoder"\n[runs.config]\nencoder = "{bert}"\n'
        f"epochs = 1\nbatch_size = 8\nlr = 1e-3\nmax_length = 64\nprogress = false\n"
        f'checkpoint_dir = "{tmp_path / "ckpt"}"\n'
    )
    f = _exp(tmp_path, ce + _distill_run(tmp_path, "ce"), folds=2)
    run_experiment(f, tmp_path / "out", only=["ce"], progress=False)
    with caplog.at_level(logging.INFO, logger="pairlm.models.crossencoder"):
        run_experiment(f, tmp_path / "out", only=["student"], progress=False)
    assert caplog.text.count("reusing the finished training") == 2


def test_teacher_names_a_run_above_with_the_same_folds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="names no \\[\\[runs\\]\\] entry above"):
        load_experiment(_exp(tmp_path, _distill_run(tmp_path) + _teacher_run()))
    with pytest.raises(ConfigError, match='`teacher` is for runs with model = "distill"'):
        load_experiment(_exp(tmp_path, _teacher_run() + _teacher_run("x", 'teacher = "teacher"')))
    with pytest.raises(ConfigError, match="`max_train` \\(None\\) differs"):
        load_experiment(
            _exp(tmp_path, _teacher_run(more="max_train = 50") + _distill_run(tmp_path))
        )
    both = _distill_run(tmp_path) + 'teacher = { family = "lexical" }\n'
    with pytest.raises(ConfigError, match="not both"):
        load_experiment(_exp(tmp_path, _teacher_run() + both))


def test_a_distill_run_whose_teacher_run_is_skipped_is_skipped(tmp_path: Path) -> None:
    gone = '[[runs]]\nname = "gone"\nmodel = "no-such-family"\noptional = true\n'
    exp = load_experiment(_exp(tmp_path, _teacher_run() + gone + _distill_run(tmp_path, "gone")))
    assert [r.name for r in exp.runs] == ["teacher"]
    assert ("student", "its teacher run 'gone' is skipped") in exp.skipped
