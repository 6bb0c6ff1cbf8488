"""experiments/behaviour-order.toml (issue 44): it parses, its runs pair up with and without
the word-order augmentation, its order-trained runs are qqp-cv's, and (a tiny smoke version)
the augmentation applies when a cross-encoder on a tiny in-process BERT is fitted with a run's
augmentation settings, and the suite reports seen and unseen families of that model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.evaluation.behaviour import run_suite
from pairlm.experiments.runner import load_experiment
from pairlm.models.registry import create
from pairlm.report.behaviour import baselines
from tests.conftest import REPO_ROOT, make_toy_pairs
from tests.models.tiny_crossencoder import make_tiny

EXP = load_experiment(REPO_ROOT / "experiments" / "behaviour-order.toml")
RUNS = {r.name: r for r in EXP.runs}


def test_config_parses_and_pairs_each_run_with_its_twin() -> None:
    qqp = load_experiment(REPO_ROOT / "experiments" / "qqp-cv.toml")
    assert (EXP.dataset, EXP.dataset_name, EXP.protocol) == (
        qqp.dataset,
        qqp.dataset_name,
        qqp.protocol,
    )  # the shared folds
    assert EXP.check is not None and EXP.check.fold == 0
    for run in EXP.runs:
        create(run.model, run.config)  # a config the family accepts
    qruns = {r.name: r for r in qqp.runs}
    for name in ("minilm-crossencoder-order", "smollm2-lora-full-al16-order-nodrop-sym"):
        assert RUNS[name].config == qruns[name].config and RUNS[name].model == qruns[name].model
    rows = [{"name": r.name, "family": r.model, "config": r.config} for r in EXP.runs]
    assert baselines(rows) == {
        "minilm-crossencoder-order-wordorder": "minilm-crossencoder-order",
        "smollm2-lora-full-al16-order-nodrop-sym-wordorder": (
            "smollm2-lora-full-al16-order-nodrop-sym"
        ),
        "minilm-biencoder-finetune-wordorder": "minilm-biencoder-finetune",
    }


def _train() -> PairDataset:
    toy = make_toy_pairs(40)
    a = [
        "Is Python better than Java?",
        "Why did Japan attack China?",
        "What is the difference between a cat and a dog?",
        "Can we do MBA after CA?",
        "How do I convert PDF to Word?",
    ] * 4
    b = [
        "Which is better, Python or Java?",
        "What caused the war?",
        "How do cats differ from dogs?",
        "Is an MBA useful after CA?",
        "What converts PDF files?",
    ] * 4
    return PairDataset.from_pairs(
        [*toy.text_a, *a], [*toy.text_b, *b], np.concatenate([toy.y, [1, 0, 1, 0, 1] * 4])
    )


def test_smoke_the_augmentation_applies_to_a_tiny_cross_encoder(tmp_path: Path) -> None:
    run = RUNS["minilm-crossencoder-order-wordorder"]
    tiny = make_tiny(tmp_path)
    settings = {k: run.config[k] for k in ("augment", "augment_ratio")}
    config = tiny.config.replace(epochs=1, **settings)
    model = type(tiny)(config).fit(_train())
    assert model.augmented_["order"] > 0
    # 0.05 of the (inner) training part: a couple of pairs, made by the rules, counted by rule
    assert model.augmented_["wordorder"] >= 1
    by_rule = {k: v for k, v in model.augmented_.items() if k.startswith("wordorder.")}
    assert sum(by_rule.values()) == model.augmented_["wordorder"]
    rep = run_suite(model, n=100, tests=["mft_role_swap", "mft_modifier"])
    s = rep.summary()
    assert s["mft_seen_mean_failure_rate"] is not None
    assert s["mft_unseen_mean_failure_rate"] is not None
