"""experiments/publish.py: finished runs are published, runs still going are snapshotted apart."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from pairlm.evaluation.store import ResultStore
from tests.conftest import REPO_ROOT, lexical_toy_run

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}
SPEC = """
[experiment]
name = "toy-exp"
[data]
dataset = "toy"
[protocol]
folds = 3
[[runs]]
name = "full"
model = "lexical"
[[runs]]
name = "going"
model = "lexical"
[[runs]]
name = "two-folds"
model = "lexical"
fold_ids = [0, 2]
[[runs]]
name = "not-started"
model = "lexical"
"""


@pytest.fixture(scope="module")
def publish() -> ModuleType:
    spec = importlib.util.spec_from_file_location("publish", REPO_ROOT / "experiments/publish.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(store_dir: Path, name: str, folds: list[int] | None, C: float = 1.0) -> None:
    with ResultStore(store_dir) as store:
        lexical_toy_run(store, {**TINY, "C": C}, name, folds)


def _names(summary: Path) -> set[str]:
    return {r["name"] for r in json.loads(summary.read_text())["runs"]}


def test_publish_holds_back_unfinished_runs_and_snapshots_them(
    publish: ModuleType, tmp_path: Path
) -> None:
    store, results, readme = tmp_path / "store", tmp_path / "results", tmp_path / "README.md"
    exp = tmp_path / "toy.toml"
    exp.write_text(SPEC)
    readme.write_text("no tables here\n")
    _run(store, "full", None)
    _run(store, "going", [0], C=0.1)
    _run(store, "two-folds", [0, 2], C=0.3)  # all of its planned folds
    args = ["--store", str(store), "--results", str(results), "--readme", str(readme)]
    args += ["--root", str(tmp_path), str(exp)]

    assert publish.main(args) == 0
    assert _names(results / "toy-exp" / "summary.json") == {"full", "two-folds"}
    progress = results / "in-progress"
    assert "going" in _names(progress / "summary.json")
    with ResultStore(progress, create=False) as snap:  # only the unfinished run's folds
        assert [r.name for r in snap.runs()] == ["going"]
        assert snap.finished_folds(snap.runs()[0].run_id) == {0}

    _run(store, "going", None, C=0.1)  # it finishes: published, the snapshot goes
    assert publish.main(args) == 0
    assert _names(results / "toy-exp" / "summary.json") == {"full", "going", "two-folds"}
    assert not progress.exists()
