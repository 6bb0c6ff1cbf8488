"""The contract every registered model family keeps (docs/architecture.md, "A model family":
the `PairClassifier` contract), on tiny in-process models.

Each family `f` provides `tests/models/tiny_<f with - as _>.py` with `make_tiny(tmp_path)`
returning an unfitted classifier; a registered family without one fails here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ConfigError, PairClassifier
from pairlm.models.registry import available, get_family, load_model
from tests.conftest import make_toy_pairs

# The package's own families: test doubles that other test folders register (e.g. the
# search tests' "test-overlap") are not held to the contract and must not make this suite
# depend on the order in which folders are collected.
FAMILIES = [f for f in available() if get_family(f).__module__.startswith("pairlm.")]


def _factory(family: str) -> Any:
    mod = f"tests.models.tiny_{family.replace('-', '_')}"
    try:
        return importlib.import_module(mod).make_tiny
    except ModuleNotFoundError as e:
        if e.name == mod:
            pytest.fail(f"registered family {family!r} has no contract factory {mod}.make_tiny")
        raise


@pytest.fixture(scope="module", params=FAMILIES)
def fitted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, PairClassifier]:
    family = request.param
    tmp = tmp_path_factory.mktemp(family)
    model = _factory(family)(tmp)
    model.fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))
    return family, tmp, model


def test_every_family_is_importable_and_named() -> None:
    for family in FAMILIES:
        cls = get_family(family)
        assert cls.family == family


def test_unfitted_is_refused(tmp_path: Path) -> None:
    for family in FAMILIES:
        model = _factory(family)(tmp_path / family)
        assert not hasattr(model, "threshold_"), "constructor must not learn anything"
        with pytest.raises((RuntimeError, ValueError)):
            model.predict(make_toy_pairs(4))


def test_fit_predict_shapes_and_range(fitted: tuple[str, Path, PairClassifier]) -> None:
    _, _, model = fitted
    test = make_toy_pairs(40, seed=3)
    p = model.predict_proba(test)
    assert isinstance(p, np.ndarray) and p.shape == (len(test),)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    pred = model.predict(test)
    assert set(np.unique(pred)) <= {0, 1}
    assert isinstance(model.threshold_, float)


def test_save_load_round_trip(fitted: tuple[str, Path, PairClassifier], tmp_path: Path) -> None:
    _, _, model = fitted
    test = make_toy_pairs(40, seed=4)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    assert loaded.threshold_ == pytest.approx(model.threshold_)
    np.testing.assert_allclose(loaded.predict_proba(test), model.predict_proba(test), atol=1e-6)


def test_deterministic_under_seed(fitted: tuple[str, Path, PairClassifier], tmp_path: Path) -> None:
    family, _, model = fitted
    again = _factory(family)(tmp_path)
    again.fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))
    test = make_toy_pairs(40, seed=5)
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test), atol=1e-5)


def test_bad_input_refused(fitted: tuple[str, Path, PairClassifier], tmp_path: Path) -> None:
    family, _, model = fitted
    fresh = _factory(family)(tmp_path)
    empty = make_toy_pairs(10).subset(np.array([], dtype=int))
    with pytest.raises(ValueError, match="empty"):
        fresh.fit(empty)
    toy = make_toy_pairs(20)
    unlabelled = PairDataset.from_pairs(list(toy.text_a), list(toy.text_b))
    with pytest.raises(ValueError, match="unlabelled"):
        fresh.fit(unlabelled)
    one_class = toy.subset(toy.label == 1)
    with pytest.raises(ValueError, match="one class"):
        fresh.fit(one_class)
    with pytest.raises(TypeError, match="PairDataset"):
        fresh.fit([("a", "b", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="PairDataset"):
        model.predict_proba(["how?", "why?"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        model.predict_proba(empty)


def test_config_round_trip_and_unknown_key(fitted: tuple[str, Path, PairClassifier]) -> None:
    _, _, model = fitted
    cls = type(model).config_cls
    assert cls.from_json(model.config.to_json()) == model.config
    with pytest.raises(ConfigError, match="no_such_key"):
        cls.from_dict({"no_such_key": 1})


def test_predict_proba_takes_a_plain_list_of_pairs(
    fitted: tuple[str, Path, PairClassifier],
) -> None:
    _, _, model = fitted
    test = make_toy_pairs(6, seed=9)
    as_list = [(a, b) for a, b in zip(test.text_a, test.text_b)]
    np.testing.assert_allclose(
        model.predict_proba(as_list), model.predict_proba(test), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(model.predict(as_list), model.predict(test))
