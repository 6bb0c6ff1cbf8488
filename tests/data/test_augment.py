"""Training-pair augmentation: deterministic, made only from the pairs it is given, labelled
as its kind says, and applied by `fit` to the training part only."""

from __future__ import annotations

import numpy as np
import pytest

from pairlm.data import augment as A
from pairlm.data.pairs import PairDataset
from pairlm.errors import ConfigError
from pairlm.models.lexical import LexicalClassifier, LexicalConfig
from tests.conftest import make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


def _pairs() -> PairDataset:
    a = [
        "Is Python better than Java?",
        "How do I move from Paris to Rome?",
        "Can I lose 5 kg in 2 weeks?",
        "What is the best time to visit Tokyo in Japan?",
        "Why do people eat more sugar in winter?",
        "Should I buy a house before I marry?",
        "Where does Maria live in Berlin now?",
        "How can a poor man become rich?",
    ]
    b = [
        "Which is better, Python or Java?",
        "What is the cheapest way to go from Paris to Rome?",
        "How can I lose 5 kg fast?",
        "When should I visit Tokyo in Japan?",
        "Why is more sugar eaten in winter?",
        "Is it wise to buy a house before marriage?",
        "Does Maria still live in Berlin?",
        "Can a poor man get rich?",
    ]
    return PairDataset.from_pairs(a * 5, b * 5, [1, 0] * 20)


def test_edits_of_one_text() -> None:
    rng = np.random.default_rng(0)
    assert A.swap_arguments("Is Python better than Java?") == "Is Java better than Python?"
    assert A.swap_arguments("How do I move from Paris to Rome?") == (
        "How do I move from Rome to Paris?"
    )
    assert A.swap_arguments("Can a poor man become rich?") == "Can a rich man become poor?"
    assert A.swap_arguments("Are dogs smarter than cats?") == "Are cats smarter than dogs?"
    assert A.swap_arguments("How did Trump become a racist?") is None
    assert A.negate("Why do people smoke?") == "Why don't people smoke?"
    assert A.negate("Why don't people smoke?") == "Why do people smoke?"
    assert A.negate("Is it not safe?") == "Is it safe?"
    assert A.negate("Nothing here") is None
    assert A.substitute_antonym("Eat more fruit before noon", rng) in (
        "Eat less fruit before noon",
        "Eat more fruit after noon",
    )
    new = A.change_number("Can I lose 5 kg in 2 weeks?", rng)
    assert new is not None and new != "Can I lose 5 kg in 2 weeks?"
    assert A.change_name("Where does Maria live?", rng, ["Maria", "Omar"]) == (
        "Where does Omar live?"
    )
    assert A.change_case("How do I learn?", rng) in ("how do i learn?", "How Do I Learn?")
    t = A.typo("Where is the station?", rng)
    assert t is not None and t != "Where is the station?"


def test_deterministic_labelled_and_made_only_from_the_input() -> None:
    pairs = _pairs()
    aug1 = A.augment_pairs(pairs, ["all"], ratio=1.0, seed=3)
    aug2 = A.augment_pairs(pairs, ["all"], ratio=1.0, seed=3)
    assert list(aug1.pairs.text_b) == list(aug2.pairs.text_b)
    assert list(aug1.kinds) == list(aug2.kinds)
    assert len(aug1.pairs) > 0 and set(aug1.counts) == set(A.KINDS)
    assert sum(aug1.counts.values()) == len(aug1.pairs)
    assert all(n <= aug1.requested[k] for k, n in aug1.counts.items())
    texts = set(pairs.text_a) | set(pairs.text_b)
    for a, b, y, k in zip(aug1.pairs.text_a, aug1.pairs.text_b, aug1.pairs.label, aug1.kinds):
        # one side is always an input text as it was (the first, but for word order)
        assert a in texts or (k == "wordorder" and b in texts)
        if k in A.NEGATIVE_KINDS:
            assert y == 0 and b not in texts
        if k == "order":
            assert b in texts
    other = A.augment_pairs(pairs, ["all"], ratio=1.0, seed=4)
    assert list(other.pairs.text_b) != list(aug1.pairs.text_b)
    assert len(A.augment_pairs(pairs, ["negation"], ratio=0.0).pairs) == 0


def test_unknown_kind_and_bad_ratio_are_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        A.augment_pairs(_pairs(), ["flip"])
    with pytest.raises(ConfigError, match="unknown augmentation 'flip'"):
        LexicalConfig(augment=["flip"])
    with pytest.raises(ConfigError, match="augment_ratio"):
        LexicalConfig(augment=["typo"], augment_ratio=-1)
    # at their defaults the options stay out of the saved config (fingerprints unchanged)
    assert "augment" not in LexicalConfig().to_dict()
    assert LexicalConfig(augment=["typo"]).to_dict()["augment"] == ("typo",)


def test_fit_augments_the_training_part_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[str]] = []
    real = A.augment_pairs

    def spy(pairs: PairDataset, *args: object, **kw: object) -> A.Augmented:
        seen.append(set(map(str, pairs.pair_id)))
        return real(pairs, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(A, "augment_pairs", spy)
    data = make_toy_pairs(120)
    train, valid = data.subset(range(90)), data.subset(range(90, 120))
    model = LexicalClassifier(**TINY, augment=["negation", "typo"], augment_ratio=0.5)
    model.fit(train, valid)
    assert seen == [set(map(str, train.pair_id))]
    assert model.augmented_["negation"] > 0 and model.augmented_["typo"] > 0
    # no valid given: the inner validation split is cut first, then the rest is augmented
    seen.clear()
    LexicalClassifier(**TINY, augment=["typo"]).fit(data)
    assert len(seen) == 1 and len(seen[0]) < len(data)
    assert seen[0] <= set(map(str, data.pair_id))
