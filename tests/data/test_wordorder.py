"""The "wordorder" augmentation: each rule's rewrite and the label it states, determinism, the
per-kind ratio, and the counts by rule a fit reports."""

from __future__ import annotations

import numpy as np
import pytest

from pairlm.data import augment as A
from pairlm.data import wordorder as W
from pairlm.data.pairs import PairDataset
from pairlm.errors import ConfigError
from pairlm.models.lexical import LexicalClassifier, LexicalConfig
from tests.conftest import make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


def _by_rule(text: str) -> dict[str, str]:
    return {r.name: new for r, new in W.rewrites(text)}


# (question, rule, rewrite): every rule's label is stated in `W.RULES`; these are its cases
CASES = [
    ("Is Python better than Java?", "comparison_swap", "Is Java better than Python?"),
    ("Is Python better than Java?", "comparison_antonym", "Is Python worse than Java?"),
    ("Is Python better than Java?", "comparison_converse", "Is Java worse than Python?"),
    ("Why is ice less dense than water?", "comparison_converse", "Why is water more dense than ice?"),
    ("Why did Japan attack China?", "role_swap", "Why did China attack Japan?"),
    ("Did Japan attack China?", "role_swap", "Did China attack Japan?"),
    ("Can a lion kill a tiger?", "role_swap", "Can a tiger kill a lion?"),
    ("Can we do MBA after CA?", "event_swap", "Can we do CA after MBA?"),
    ("Can we do MBA after CA?", "event_converse", "Can we do CA before MBA?"),
    ("Is reading before sleeping useful?", "event_swap", "Is sleeping before reading useful?"),
    ("Is reading before sleeping useful?", "event_converse", "Is sleeping after reading useful?"),
    ("How do I convert PDF to Word?", "direction_swap", "How do I convert Word to PDF?"),
    ("How do I move from Delhi to Mumbai?", "direction_swap", "How do I move from Mumbai to Delhi?"),
    (
        "What is the difference between a cat and a dog?",
        "symmetric_swap",
        "What is the difference between a dog and a cat?",
    ),
    ("Python vs Java?", "symmetric_swap", "Java vs Python?"),
    ("How can I compare Android and iOS?", "symmetric_swap", "How can I compare iOS and Android?"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "rule", "new"), CASES)
def test_each_rule_rewrites_as_its_docstring_says(text: str, rule: str, new: str) -> None:
    assert _by_rule(text)[rule] == new


def test_labels_negatives_change_the_question_positives_keep_it() -> None:
    labels = {r.name: r.label for r in W.RULES}
    assert {n for n, y in labels.items() if y == 0} == {
        "comparison_swap",
        "comparison_antonym",
        "role_swap",
        "event_swap",
        "direction_swap",
    }
    assert {n for n, y in labels.items() if y == 1} == {
        "comparison_converse",
        "event_converse",
        "symmetric_swap",
    }
    for r in W.RULES:  # every rule's label is stated in the module's docstring
        assert f"``{r.name}``" in (W.__doc__ or "")


@pytest.mark.parametrize(
    "text",
    [
        "Why do I hate Mondays?",  # a pronoun is not an argument
        "What is the difference between Python and Java in India?",  # Y is not one argument
        "How do I get people from school to follow my page?",  # "to follow" is a verb
        "Do firms in India hire PhD graduates?",  # India follows a preposition
        "Are there more women than men?",  # "there" is no side of a comparison
        "Is it better to eat before running?",  # "eat" is no gerund
        "How do I learn to cook?",
    ],
)
def test_rules_leave_what_they_cannot_label_alone(text: str) -> None:
    assert W.rewrites(text) == []


def _pairs() -> PairDataset:
    a = [
        "Is Python better than Java?",
        "Why did Japan attack China?",
        "What is the difference between a cat and a dog?",
        "Can we do MBA after CA?",
        "How do I convert PDF to Word?",
        "How do I learn to cook?",
    ]
    b = [
        "Which is better, Python or Java?",
        "What caused the war between Japan and China?",
        "How do cats differ from dogs?",
        "Is an MBA useful after CA?",
        "What converts PDF files?",
        "What is the best way to learn cooking?",
    ]
    return PairDataset.from_pairs(a * 4, b * 4, [1, 0, 1, 0, 1, 0] * 4)


def test_make_pairs_is_deterministic_balanced_by_rule_and_labelled_by_rule() -> None:
    pairs = _pairs()
    one = A.augment_pairs(pairs, ["wordorder"], ratio=1.0, seed=1)
    two = A.augment_pairs(pairs, ["wordorder"], ratio=1.0, seed=1)
    assert list(one.pairs.text_a) == list(two.pairs.text_a) and one.rules == two.rules
    labels = {r.name: r.label for r in W.RULES}
    texts = set(pairs.text_a) | set(pairs.text_b)
    for a, b, y, rule in zip(one.pairs.text_a, one.pairs.text_b, one.pairs.label, one.rules):
        assert y == labels[rule]
        assert (a in texts) != (b in texts)  # a training question and its rewrite
    # each distinct question gives each rule that applies once
    counts = one.rule_counts
    assert counts["wordorder.comparison_swap"] == 1 and counts["wordorder.symmetric_swap"] == 2
    assert sum(counts.values()) == len(one.pairs) == one.counts["wordorder"]
    # the rules take turns: with room for 3 pairs, three different rules give one each
    few = A.augment_pairs(pairs, ["wordorder"], ratio=3 / len(pairs), seed=0)
    assert len(few.pairs) == 3 and len(set(few.rules)) == 3
    assert "word order by rule" in one.summary()


def test_a_kind_of_its_own_ratio_and_the_shared_ratio() -> None:
    pairs = make_toy_pairs(100)
    aug = A.augment_pairs(pairs, ["order", "typo:0.1"], ratio=0.5, seed=0)
    assert aug.requested == {"order": 50, "typo": 10}
    assert aug.counts == {"order": 50, "typo": 10}
    assert A.resolve_kinds(["order", "wordorder:0.2"]) == ("order", "wordorder")
    with pytest.raises(ValueError, match="ratio after ':' must be a number"):
        A.augment_pairs(pairs, ["typo:x"])
    with pytest.raises(ValueError, match="applies to one kind"):
        A.augment_pairs(pairs, ["negatives:0.1"])
    with pytest.raises(ConfigError, match="must be in \\[0, 10\\]"):
        LexicalConfig(augment=["wordorder:11"])
    assert LexicalConfig(augment=["order", "wordorder:0.1"]).augment == ("order", "wordorder:0.1")


def test_fit_reports_pairs_by_rule() -> None:
    data = make_toy_pairs(60)
    both = PairDataset.from_pairs(
        [*data.text_a, *_pairs().text_a],
        [*data.text_b, *_pairs().text_b],
        np.concatenate([data.y, _pairs().y]),
    )
    model = LexicalClassifier(**TINY, augment=["wordorder:0.5"]).fit(both)
    assert model.augmented_["wordorder"] > 0
    assert model.augmented_["wordorder"] == sum(
        v for k, v in model.augmented_.items() if k.startswith("wordorder.")
    )
