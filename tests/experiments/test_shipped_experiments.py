"""The shipped experiment files and the benchmarks that read them stay in step."""

from __future__ import annotations

import importlib.util

import pytest

from pairlm.experiments.runner import load_experiment
from pairlm.models.registry import create
from tests.conftest import REPO_ROOT


def _benchmark(monkeypatch: pytest.MonkeyPatch, name: str = "ensemble_members"):
    # the benchmark sets a default data folder on import; keep this process's as it was
    monkeypatch.setenv("PAIRLM_DATA_DIR", "unused")
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    path = REPO_ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_ensemble_member_candidates_are_qqp_cv_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _benchmark(monkeypatch)
    runs = {r.name: r for r in load_experiment(REPO_ROOT / "experiments" / "qqp-cv.toml").runs}
    for name, run_name in bench.CANDIDATES.items():
        assert run_name in runs, f"candidate {name}: no run {run_name} in qqp-cv.toml"
        family, config = bench.candidate(name)
        assert (family, config) == (runs[run_name].model, runs[run_name].config)
        create(family, config)  # a config the family accepts
    assert set(bench.DEFAULT_CANDIDATES) <= set(bench.CANDIDATES)


def test_ensemble_member_cache_is_keyed_by_fold_and_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = _benchmark(monkeypatch)
    key = bench.cache_path("c", 0, "lexical")
    assert key == bench.cache_path("c", 0, "lexical")  # stable, so a rerun finds it
    assert key != bench.cache_path("c", 1, "lexical")
    assert key != bench.cache_path("c", 0, "biencoder")
    family, config = bench.candidate("lexical")
    monkeypatch.setattr(bench, "candidate", lambda name: (family, {**config, "changed": 1}))
    assert key != bench.cache_path("c", 0, "lexical")  # a changed config is trained again


def test_symmetric_scoring_candidates_are_order_dependent_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each candidate of benchmarks/symmetric_scoring.py is an ensemble-member candidate (a
    qqp-cv run) whose family takes `symmetric`, and order-averaging it keeps its training."""
    from pairlm.models.base import training_fingerprint
    from tests.conftest import make_toy_pairs

    bench = _benchmark(monkeypatch, "symmetric_scoring")
    pairs = make_toy_pairs(8)
    for name in bench.ORDER_DEPENDENT:
        assert name in bench.CANDIDATES
        family, config = bench.candidate(name)
        one, both = (
            create(family, config).config,
            create(family, {**config, "symmetric": True}).config,
        )
        assert one.identity_dict() != both.identity_dict()
        assert training_fingerprint(one, pairs, pairs) == training_fingerprint(both, pairs, pairs)
