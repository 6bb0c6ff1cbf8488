"""Shared fixtures: a small learnable toy pair dataset, and the location of ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python_child(code: str, *args: str, timeout: float = 300) -> Any:
    """Run `python -c code args...` from the repository root with this checkout's pairlm
    importable (the kill-and-resume tests: a child killed mid-training), output captured."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_TOPICS = [
    ("learn", "python", "programming", "fast"),
    ("lose", "weight", "quickly", "diet"),
    ("invest", "money", "stock", "market"),
    ("cook", "rice", "perfectly", "pot"),
    ("travel", "japan", "cheap", "budget"),
    ("fix", "laptop", "screen", "broken"),
    ("write", "novel", "first", "book"),
    ("play", "guitar", "chords", "beginner"),
    ("grow", "tomatoes", "garden", "summer"),
    ("train", "dog", "sit", "puppy"),
]
_FRAMES_A = ["how do i {0} {1} {2}", "what is the best way to {0} {1} {2}", "how can i {0} {1}"]
_FRAMES_B = ["best way to {0} {1} {3}", "how should i {0} {1} {2}", "tips to {0} {1} {3}"]


def shared_data_dir() -> Path | None:
    """../shared/data (or $PAIRLM_DATA_DIR) when present, else None."""
    env = os.environ.get("PAIRLM_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "data"]:
        if (cand / "qqp" / "glue-train-subset.tsv").is_file():
            return cand
    return None


def make_toy_pairs(n: int = 60, seed: int = 0) -> PairDataset:
    """Duplicates ask about the same topic in other words; non-duplicates mix two topics."""
    rng = np.random.default_rng(seed)
    a, b, y = [], [], []
    for i in range(n):
        t = _TOPICS[rng.integers(len(_TOPICS))]
        fa = _FRAMES_A[rng.integers(len(_FRAMES_A))]
        fb = _FRAMES_B[rng.integers(len(_FRAMES_B))]
        if i % 2 == 0:
            a.append(fa.format(*t) + "?")
            b.append(fb.format(*t) + "?")
            y.append(1)
        else:
            u = _TOPICS[(_TOPICS.index(t) + 1 + rng.integers(len(_TOPICS) - 1)) % len(_TOPICS)]
            a.append(fa.format(*t) + "?")
            b.append(fb.format(*u) + "?")
            y.append(0)
    return PairDataset.from_pairs(a, b, y, name="toy")


def lexical_toy_run(
    store: Any, config: dict[str, Any], name: str, folds: list[int] | None = None
) -> None:
    """Run `name` into the ResultStore `store`: lexical with `config` on 150 toy pairs,
    3 folds (`folds`: only these)."""
    from pairlm.evaluation.cv import Protocol, cross_validate

    cross_validate(
        make_toy_pairs(150),
        "lexical",
        config,
        store=store,
        protocol=Protocol(folds=3),
        run_name=name,
        dataset_name="toy",
        only_folds=folds,
        progress=False,
    )


@pytest.fixture
def toy_pairs() -> PairDataset:
    return make_toy_pairs()


@pytest.fixture
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data not present (set PAIRLM_DATA_DIR to run this test)")
    return d
