"""The shipped experiment files and the benchmarks that read them stay in step."""

from __future__ import annotations

import importlib.util

import pytest

from pairlm.experiments.runner import load_experiment
from pairlm.models.registry import create
from tests.conftest import REPO_ROOT


def _benchmark(monkeypatch: pytest.MonkeyPatch):
    # the benchmark sets a default data folder on import; keep this process's as it was
    monkeypatch.setenv("PAIRLM_DATA_DIR", "unused")
    path = REPO_ROOT / "benchmarks" / "ensemble_members.py"
    spec = importlib.util.spec_from_file_location("ensemble_members", path)
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
