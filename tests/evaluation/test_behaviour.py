"""The behavioural suite: its shape, determinism, failure counting on models whose answers are
known, order-averaging, and augmentation moving a small lexical model's failure rates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.evaluation.behaviour import TESTS, generate, names, run_suite
from pairlm.models.base import ModelConfig, PairClassifier, SymmetricOption
from pairlm.models.lexical import LexicalClassifier
from tests.conftest import make_toy_pairs


class _Fixed(PairClassifier):
    """Scores every pair with `score(a, b)`; threshold 0.5."""

    family: ClassVar[str] = "fixed"
    config_cls: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, score, config: ModelConfig | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config)
        self.score = score
        self.threshold_ = 0.5

    def _fit(self, train: PairDataset, valid: PairDataset) -> None: ...

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        return np.array([self.score(a, b) for a, b in zip(pairs.text_a, pairs.text_b)])

    def _save_state(self, path: Path) -> None: ...

    def _load_state(self, path: Path) -> None: ...


@dataclass
class _SymConfig(SymmetricOption):
    pass


class _Ordered(_Fixed):
    config_cls: ClassVar[type[ModelConfig]] = _SymConfig


def test_at_least_ten_tests_of_every_kind_with_at_least_100_cases() -> None:
    suite = generate(n=200, seed=0)
    assert len(suite) == len(TESTS) >= 10
    assert {t.kind for t, _ in suite} == {"mft", "inv", "dir"}
    for t, cases in suite:
        assert len(cases) >= 100, t.name
        assert len(set(cases)) == len(cases), t.name
        assert t.description
        if t.kind == "mft":
            assert t.expected in (0, 1) and all(c.base is None for c in cases)
        else:
            assert all(c.base is not None and c.base != c.pair for c in cases)
    small = generate(n=100, seed=0)
    assert all(len(c) == 100 for _, c in small)


def test_deterministic_under_a_seed() -> None:
    a, b = generate(n=150, seed=7), generate(n=150, seed=7)
    assert [c for _, c in a] == [c for _, c in b]
    other = generate(n=150, seed=8)
    assert [c for _, c in a] != [c for _, c in other]
    with pytest.raises(ValueError, match="unknown behaviour test"):
        generate(tests=["nope"])


def test_minimal_pairs_differ_as_their_test_says() -> None:
    suite = dict((t.name, c) for t, c in generate(n=100, seed=0))
    for c in suite["mft_identity"]:
        assert c.pair[0] == c.pair[1]
    for c in suite["mft_negation"]:
        a, b = c.pair
        assert any(w in a + b for w in ("n't", " not ", " never "))
    for c in suite["mft_asymmetric_swap"] + suite["mft_symmetric_swap"]:
        a, b = c.pair
        assert a != b and sorted(a.rstrip("?").split()) == sorted(b.rstrip("?").split())
    for c in suite["inv_symmetry"]:
        assert c.pair == (c.base[1], c.base[0])  # type: ignore[index]


def test_failures_of_a_constant_model() -> None:
    # P(match) 0.9 for everything: every "not duplicate" case fails, every duplicate case and
    # every invariance case passes, and no directional case goes down
    rep = run_suite(_Fixed(lambda a, b: 0.9), n=100)
    for r in rep.results:
        if r.kind == "mft":
            assert r.failure_rate == (1.0 if r.expected == 0 else 0.0), r.name
        elif r.kind == "inv":
            assert r.failure_rate == 0.0, r.name
        else:
            assert r.failure_rate == 1.0 and r.examples
    s = rep.summary()
    assert s["tests"] == len(TESTS) and s["symmetry_failure_rate"] == 0.0
    assert len(rep.results[0].examples) == 3


def test_symmetric_option_averages_both_orders() -> None:
    def by_order(a: str, b: str) -> float:
        return len(a) / (len(a) + len(b))

    plain = run_suite(_Ordered(by_order), n=100, tests=["inv_symmetry"])
    both = run_suite(_Ordered(by_order, _SymConfig(symmetric=True)), n=100, tests=["inv_symmetry"])
    assert plain.rate("inv_symmetry") > 0.2
    assert both.rate("inv_symmetry") == 0.0
    sym = next(r for r in both.results if r.name == "inv_symmetry")
    assert sym.mean_abs_change == pytest.approx(0.0, abs=1e-12)
    assert next(r for r in plain.results if r.name == "inv_symmetry").mean_abs_change > 0.05
    m = _Ordered(by_order, _SymConfig(symmetric=True))
    p = m.predict_proba([("a", "bbb"), ("bbb", "a")])
    assert p == pytest.approx([0.5, 0.5])


def test_a_tiny_lexical_model_gets_rates_and_augmentation_moves_them() -> None:
    data = make_toy_pairs(200, seed=1)
    tiny = {"max_word_features": 1000, "max_char_features": 1000, "n_bins": 4}
    plain = LexicalClassifier(**tiny).fit(data)
    aug = LexicalClassifier(**tiny, augment=["negation"], augment_ratio=1.0).fit(data)
    tests = ["mft_negation", "inv_casing"]
    r0 = run_suite(plain, n=100, tests=tests)
    r1 = run_suite(aug, n=100, tests=tests)
    assert [r.name for r in r0.results] == tests
    assert all(0.0 <= r.failure_rate <= 1.0 and r.n == 100 for r in r0.results)
    assert r0.rate("mft_negation") > 0.5  # negation is invisible to it without augmentation
    assert r1.rate("mft_negation") < r0.rate("mft_negation") - 0.2


def test_names_match_the_tests() -> None:
    assert names() == [t.name for t in TESTS]


def test_summary_gives_seen_and_unseen_families_apart() -> None:
    # P(match) 0.9: every "not duplicate" mft case fails, every duplicate case passes
    rep = run_suite(_Fixed(lambda a, b: 0.9), n=100)
    s = rep.summary()
    mft = [r for r in rep.results if r.kind == "mft"]
    seen = [r.failure_rate for r in mft if r.seen]
    unseen = [r.failure_rate for r in mft if not r.seen]
    assert seen and unseen
    assert s["mft_seen_mean_failure_rate"] == pytest.approx(np.mean(seen))
    assert s["mft_unseen_mean_failure_rate"] == pytest.approx(np.mean(unseen))
    asym = [r.failure_rate for r in rep.results if r.order == "asymmetric"]
    assert s["asymmetric_swap_failure_rate"] == 1.0 == np.mean(asym)
    assert s["symmetric_swap_failure_rate"] == 0.0
    doc = rep.to_dict()["tests"]
    assert all({"family", "seen", "covered_by", "order"} <= set(t) for t in doc)
    assert next(t for t in doc if t["name"] == "mft_active_passive")["seen"] is False
