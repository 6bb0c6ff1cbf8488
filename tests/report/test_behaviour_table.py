"""The robustness table (issue 44) on synthetic stored results: baselines found by family and
config, ΔF1 with the CI of the per-fold differences, seen/unseen failure rates."""

from __future__ import annotations

import json

import pytest

from pairlm.report.behaviour import (
    baselines,
    behaviour_markdown,
    check_markdown,
    robustness_markdown,
    robustness_rows,
)


def _run(name: str, family: str, config: dict, folds: list[float]) -> dict:
    m = sum(folds) / len(folds)
    return {
        "name": name,
        "family": family,
        "config": config,
        "f1_mean": m,
        "f1_ci": [m - 0.01, m + 0.01],
        "fold_f1": folds,
    }


ORDER = {"augment": ["order"], "augment_ratio": 1.0, "epochs": 1}
RUNS = [
    _run("ce", "crossencoder", {**ORDER, "checkpoint_dir": "a"}, [0.80, 0.81, 0.79]),
    _run(
        "ce-wo",
        "crossencoder",
        {**ORDER, "augment": ["order", "wordorder:0.1"], "checkpoint_dir": "b"},
        [0.79, 0.80, 0.79],
    ),
    _run("bi", "biencoder", {"mode": "finetune"}, [0.75, 0.76, 0.74]),
    _run("bi-wo", "biencoder", {"mode": "finetune", "augment": ["wordorder:0.1"]}, [0.76, 0.76]),
    _run("lex-wo", "lexical", {"augment": ["wordorder"]}, [0.7, 0.7, 0.7]),
]


def _check(name: str, family: str, config: dict, seen: float, unseen: float) -> dict:
    return {
        "run": name,
        "family": family,
        "config": config,
        "fold": 0,
        "suite": {"n": 100, "seed": 0, "tolerance": 0.1},
        "summary": {
            "mft_mean_failure_rate": (seen + unseen) / 2,
            "mft_seen_mean_failure_rate": seen,
            "mft_unseen_mean_failure_rate": unseen,
            "asymmetric_swap_failure_rate": 0.3,
            "symmetric_swap_failure_rate": 0.1,
            "symmetry_failure_rate": 0.05,
        },
        "tests": [
            {
                "name": "mft_role_swap",
                "kind": "mft",
                "capability": "word order: roles",
                "description": "roles swapped",
                "n": 100,
                "failures": 30,
                "failure_rate": 0.3,
                "family": "role swap",
                "seen": True,
                "examples": [{"text_a": "a", "text_b": "b", "score": 0.9}],
            },
            {
                "name": "mft_modifier",
                "kind": "mft",
                "capability": "modifiers",
                "description": "a modifier",
                "n": 100,
                "failures": 50,
                "failure_rate": 0.5,
                "family": "modifier",
                "seen": False,
                "examples": [],
            },
        ],
    }


CHECKS = {r["name"]: _check(r["name"], r["family"], r["config"], 0.2, 0.4) for r in RUNS}


def test_baseline_is_the_same_family_and_config_without_the_augmentation() -> None:
    # runtime keys (checkpoint_dir) aside; bi-wo has no other kind, so its baseline has none
    assert baselines(RUNS) == {"ce-wo": "ce", "bi-wo": "bi"}


def test_rows_give_delta_f1_with_the_ci_of_per_fold_differences() -> None:
    rows = {r["run"]: r for r in robustness_rows(CHECKS, RUNS)}
    ce = rows["ce-wo"]
    assert ce["baseline"] == "ce" and ce["folds"] == 3
    assert ce["delta_f1"] == pytest.approx(-0.01 / 3 * 2)
    lo, hi = ce["delta_f1_ci"]
    assert lo < ce["delta_f1"] < hi
    assert (ce["mft_seen"], ce["mft_unseen"], ce["symmetry"]) == (0.2, 0.4, 0.05)
    # folds that do not pair up give no difference; no baseline, no difference
    assert rows["bi-wo"]["baseline"] == "bi" and rows["bi-wo"]["delta_f1"] is None
    assert rows["lex-wo"]["baseline"] is None and rows["ce"]["baseline"] is None
    json.dumps(list(rows.values()), allow_nan=False)  # summary.json holds no NaN


def test_markdown_tables_show_seen_and_unseen_apart() -> None:
    md = robustness_markdown(robustness_rows(CHECKS, RUNS))
    assert "| run | family | F1 [CI] | ΔF1 [CI] | mft seen | mft unseen |" in md
    assert "| ce-wo | crossencoder | 0.7933 [0.7833, 0.8033] | -0.0067 [" in md
    assert "vs ce | 0.200 | 0.400 | 0.300 | 0.100 | 0.050 |" in md
    assert robustness_markdown([]) == ""
    main = behaviour_markdown(CHECKS, {"ce": 0.8})
    assert "| mft seen | mft unseen |" in main
    assert "| mft_modifier | mft | modifier | unseen |" in main
    one = check_markdown({"model_dir": "m", **CHECKS["ce"]})
    assert "(unseen): mft 0.400" in one and "| mft_role_swap | mft | role swap | seen |" in one
