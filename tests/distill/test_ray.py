"""`backend = "ray"`: the teacher scores silver pairs on Ray actors (ray_predict's path) with
the scores of local scoring; a teacher trained in the fit is saved for the actors to load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_toy_pairs
from tests.models.tiny_distill import make_tiny

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_scoring_gives_the_local_scores(tmp_path: Path) -> None:
    train, valid = make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2)
    local = make_tiny(tmp_path).fit(train, valid)
    on_ray = make_tiny(tmp_path, backend="ray", score_batch=40, cache_dir=str(tmp_path / "c")).fit(
        train, valid
    )
    np.testing.assert_allclose(on_ray.silver_scores_, local.silver_scores_, atol=1e-9)
    fp = on_ray.summary_["teacher"]["fingerprint"]
    assert (tmp_path / "c" / f"teacher-{fp}" / "teacher-model" / "pairlm_model.json").is_file()
    assert on_ray.summary_["scored_now"] == len(on_ray.silver_)
