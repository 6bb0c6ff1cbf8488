"""The `distill` family: silver pairs never gold or held out, labels soft or hard, the
student saved as a plain model of its family, config checks."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pairlm.distill.family import DistillClassifier, DistillConfig
from pairlm.distill.sampling import pair_key, pair_keys
from pairlm.errors import ConfigError
from pairlm.models import registry
from pairlm.models.lexical import LexicalClassifier
from tests.conftest import make_toy_pairs
from tests.models.tiny_distill import TINY_LEXICAL, make_tiny


@pytest.fixture(scope="module")
def data():
    return make_toy_pairs(80, seed=1), make_toy_pairs(30, seed=2), make_toy_pairs(40, seed=3)


def _silver_keys(model: DistillClassifier) -> set:
    s = model.silver_
    assert s is not None
    return {pair_key(a, b) for a, b in zip(s.text_a, s.text_b)}


def test_silver_pairs_are_never_gold_valid_or_held_out(data, tmp_path: Path) -> None:
    train, valid, test = data
    model = make_tiny(tmp_path, samplers={"bm25": 3.0, "random": 3.0})
    model.hold_out(test)
    model.fit(train, valid)
    keys = _silver_keys(model)
    assert len(keys) == len(model.silver_) > 0
    assert not keys & (pair_keys(train) | pair_keys(valid) | pair_keys(test))
    s = model.summary_
    assert s["held_out_pairs"] == len(test) and s["gold_pairs"] == len(train)
    assert sum(s["silver"]["pairs"].values()) == s["silver"]["total"] == len(keys)


def test_soft_labels_are_the_teachers_scores_and_hard_its_decisions(data, tmp_path: Path) -> None:
    train, valid, _ = data
    soft = make_tiny(tmp_path).fit(train, valid)
    assert soft.summary_["labels_used"] == "soft"
    np.testing.assert_allclose(soft.silver_.target, soft.silver_scores_)
    thr = soft.summary_["teacher"]["threshold"]
    np.testing.assert_array_equal(soft.silver_.label, soft.silver_scores_ >= thr)
    hard = make_tiny(tmp_path, labels="hard").fit(train, valid)
    assert hard.silver_.target is None and hard.summary_["labels_used"] == "hard"
    np.testing.assert_array_equal(hard.silver_.label, soft.silver_.label)
    test = make_toy_pairs(30, seed=9)
    assert not np.allclose(soft.predict_proba(test), hard.predict_proba(test))


class HardOnly(LexicalClassifier):
    family = "test-hard-only"
    soft_targets = False


def test_a_student_without_soft_targets_gets_decisions_and_a_warning(
    data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(registry._FAMILIES, "test-hard-only", f"{__name__}:HardOnly")
    train, valid, _ = data
    student = {"family": "test-hard-only", "config": TINY_LEXICAL["config"]}
    with caplog.at_level(logging.WARNING, logger="pairlm.distill"):
        model = make_tiny(tmp_path, student=student).fit(train, valid)
    assert "cannot learn from probabilities" in caplog.text
    assert model.silver_.target is None and model.summary_["labels_used"] == "hard"


def test_no_sampler_is_a_gold_only_student(data, tmp_path: Path) -> None:
    train, valid, _ = data
    model = make_tiny(tmp_path, samplers={}).fit(train, valid)
    gold = LexicalClassifier(LexicalClassifier.config_cls.from_dict(TINY_LEXICAL["config"]))
    gold.fit(train, valid)
    assert model.summary_["silver"]["total"] == 0
    np.testing.assert_allclose(model.predict_proba(valid), gold.predict_proba(valid))


def test_save_student_is_a_plain_model_of_its_family(data, tmp_path: Path) -> None:
    train, valid, test = data
    model = make_tiny(tmp_path).fit(train, valid)
    out = model.save_student(tmp_path / "student", extra={"data": {"train": "x"}})
    loaded = registry.load_model(out)
    assert type(loaded) is LexicalClassifier
    assert loaded.threshold_ == pytest.approx(model.threshold_)
    np.testing.assert_allclose(loaded.predict_proba(test), model.predict_proba(test))
    prov = loaded.provenance_["distilled"]
    assert prov["silver"]["pairs"] == model.summary_["silver"]["pairs"]
    assert prov["teacher"]["family"] == "lexical" and prov["data"] == {"train": "x"}
    meta = json.loads((out / "pairlm_model.json").read_text())
    assert meta["family"] == "lexical" and "distilled" in meta["provenance"]
    with (out / "silver.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == len(model.silver_)
    assert {r["sampler"] for r in rows} == {"bm25", "random"}
    loaded.save(tmp_path / "again")  # a re-saved student keeps its provenance
    assert registry.load_model(tmp_path / "again").provenance_ == loaded.provenance_


def test_the_neighbours_sampler_with_a_sentence_encoder(data, tmp_path: Path) -> None:
    from tests.models.tiny_biencoder import make_tiny_sentence_encoder

    enc = make_tiny_sentence_encoder(tmp_path / "st")
    train, valid, _ = data
    model = make_tiny(tmp_path, samplers={"neighbours": 1.0}, encoder=str(enc)).fit(train, valid)
    assert model.summary_["silver"]["pairs"] == {"neighbours": len(train)}
    assert not _silver_keys(model) & (pair_keys(train) | pair_keys(valid))


def test_a_saved_teacher_directory(data, tmp_path: Path) -> None:
    train, valid, _ = data
    teacher = LexicalClassifier(**TINY_LEXICAL["config"]).fit(train, valid)
    teacher.save(tmp_path / "teacher")
    model = make_tiny(tmp_path, teacher={"model_dir": str(tmp_path / "teacher")}).fit(train, valid)
    same = make_tiny(tmp_path).fit(train, valid)  # the same teacher, trained in the fit
    np.testing.assert_allclose(model.silver_scores_, same.silver_scores_, atol=1e-9)
    assert model.summary_["teacher"]["model_dir"] == str(tmp_path / "teacher")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"teacher": {}}, "teacher is required"),
        ({"teacher": {"model_dir": "x", "family": "lexical"}}, "model_dir"),
        ({"teacher": {"family": "nope"}}, "teacher.family: unknown family"),
        ({"student": {"family": "distill"}}, "cannot be the student"),
        ({"student": {"family": "lexical", "config": {"C": -1}}}, "student.config"),
        ({"samplers": {"knn": 1.0}}, "unknown sampler"),
        ({"samplers": {"bm25": -1}}, r"samplers.bm25 must be a number in \[0, 100\]"),
        ({"labels": "fuzzy"}, "labels must be one of"),
        ({"address": "auto"}, "address is for backend"),
    ],
)
def test_bad_configs_are_refused_by_key(change: dict, message: str) -> None:
    cfg = {"teacher": TINY_LEXICAL, **change}
    with pytest.raises(ConfigError, match=message):
        DistillConfig.from_dict(cfg)


def test_identity_leaves_out_nested_runtime_keys() -> None:
    ce = {
        "family": "crossencoder",
        "config": {"epochs": 2, "checkpoint_dir": "a", "num_threads": 2},
    }
    a = DistillConfig.from_dict({"teacher": ce, "cache_dir": "x", "score_batch": 7})
    b = DistillConfig.from_dict(
        {"teacher": {**ce, "config": {"epochs": 2, "checkpoint_dir": "b"}}, "progress": False}
    )
    assert a.identity_dict() == b.identity_dict()
    assert a.identity_dict()["teacher"]["config"]["epochs"] == 2
