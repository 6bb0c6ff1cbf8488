"""`ensemble`: member checks, a stacker fitted on validation, a threshold from held-out
stacker scores, and a LoRA member that resumes its own run's finished training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pairlm.models.base import ConfigError
from pairlm.models.ensemble import EnsembleClassifier, EnsembleConfig
from pairlm.models.registry import load_model
from pairlm.models.thresholds import choose_threshold
from tests.conftest import make_toy_pairs
from tests.models import tiny_siamese_cnn
from tests.models.tiny_ensemble import make_tiny
from tests.models.tiny_llm_lora import TINY_TRAIN
from tests.models.tiny_llm_zeroshot import make_tiny_llama

LEX = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([], "at least one"),
        ([{"family": "nosuch"}], r"members\[0\].family: unknown family 'nosuch'"),
        ([{"family": "ensemble"}], "cannot be a member"),
        ([{"family": "lexical", "config": {"bogus": 1}}], r"members\[0\].config: .*bogus"),
        ([{"family": "lexical", "weight": 2}], r"members\[0\]: unknown key\(s\) weight"),
        ([{"family": "lexical"}, {"family": "lexical"}], "duplicate member name"),
    ],
)
def test_member_config_errors_name_the_member(members: list, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        EnsembleConfig(members=members)


def test_two_members_of_one_family_with_names() -> None:
    cfg = EnsembleConfig(
        members=[{"family": "lexical"}, {"family": "lexical", "name": "lex2", "config": {"C": 2}}]
    )
    assert cfg.member_names() == ["lexical", "lex2"]


def test_threshold_comes_from_held_out_stacker_scores(tmp_path: Path) -> None:
    train, valid = make_toy_pairs(60, seed=1), make_toy_pairs(40, seed=2)
    m = make_tiny(tmp_path).fit(train, valid)
    held_out = m.validation_scores(valid)
    in_sample = m.predict_proba(valid)
    assert held_out.shape == in_sample.shape and not np.allclose(held_out, in_sample)
    assert m.threshold_ == pytest.approx(choose_threshold(valid.y, held_out))
    assert set(m.weights()) == {"lexical", "siamese-cnn"}


def test_stacker_weighs_an_informative_member_over_noise(tmp_path: Path) -> None:
    """A member that only sees random embeddings for one epoch is worth less than lexical."""
    noise = dict(tiny_siamese_cnn.TINY, epochs=1, n_filters=2)
    m = EnsembleClassifier(
        members=[{"family": "lexical", "config": LEX}, {"family": "siamese-cnn", "config": noise}],
        stack_folds=3,
    ).fit(make_toy_pairs(80, seed=1), make_toy_pairs(60, seed=2))
    w = m.weights()
    assert w["lexical"] > abs(w["siamese-cnn"])


def test_lora_member_resumes_its_own_finished_run(tmp_path: Path) -> None:
    """Same config and data as a run of its own, with a checkpoint_dir: no second training."""
    folder = make_tiny_llama(tmp_path / "tiny-llama")
    cfg = {
        **TINY_TRAIN,
        "backbone": str(folder),
        "epochs": 1,
        "checkpoint_dir": str(tmp_path / "ck"),
    }
    train, valid, test = make_toy_pairs(48, seed=1), make_toy_pairs(24, seed=2), make_toy_pairs(16)
    from pairlm.models.llm.lora import LLMLoRAClassifier

    alone = LLMLoRAClassifier(**cfg).fit(train, valid)
    ens = EnsembleClassifier(
        members=[{"family": "lexical", "config": LEX}, {"family": "llm-lora", "config": cfg}],
        stack_folds=3,
    ).fit(train, valid)
    member = ens.members_[1]
    assert member.resumed_step_ == alone.state_.step > 0  # resumed at the end: nothing retrained
    np.testing.assert_allclose(member.predict_proba(test), alone.predict_proba(test), atol=1e-6)
    ens.save(tmp_path / "ens")
    back = load_model(tmp_path / "ens")
    np.testing.assert_allclose(back.predict_proba(test), ens.predict_proba(test), atol=1e-6)


# every shipped stack, configs/ensemble-NAME.toml, is measured as the qqp-cv run ensemble-NAME
SHIPPED_STACKS = sorted(
    p.name for p in (Path(__file__).resolve().parents[2] / "configs").glob("ensemble-*.toml")
)


@pytest.mark.parametrize("shipped_file", SHIPPED_STACKS)
def test_shipped_stacks_are_the_measured_ones(shipped_file: str) -> None:
    """Each shipped stack config is valid and has the members of the qqp-cv run whose
    figures the README reports (less their checkpoint directories)."""
    import tomllib

    from pairlm.configfile import load_config_file

    root = Path(__file__).resolve().parents[2]
    shipped = load_config_file(root / "configs" / shipped_file)
    cfg = EnsembleConfig(**shipped)
    experiment = tomllib.loads((root / "experiments" / "qqp-cv.toml").read_text())
    run_name = Path(shipped_file).stem
    (run,) = [r for r in experiment["runs"] if r["name"] == run_name]

    def strip(members: list[dict]) -> list[dict]:
        out = []
        for m in members:
            c = {k: v for k, v in m.get("config", {}).items() if k != "checkpoint_dir"}
            out.append({**m, "config": c})
        return out

    assert strip(cfg.members) == strip(run["config"]["members"])
