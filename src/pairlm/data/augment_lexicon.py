"""The word lists and rule templates the training-pair augmentation (`pairlm.data.augment`,
`pairlm.data.wordorder`) is built from.

They are kept apart from the behavioural suite's (`pairlm.evaluation.behaviour.lexicon`): a
test (tests/evaluation/test_behaviour_independent.py) proves that the two share no word-list
entry, no content word, no template, and that no rule here rewrites a question of the suite,
so the suite measures behaviour on text the augmentation never produced. Adding a word here
that the suite uses (or the reverse) fails that test.
"""

from __future__ import annotations

ANTONYMS: tuple[tuple[str, str], ...] = (
    ("more", "less"),
    ("before", "after"),
    ("with", "without"),
    ("good", "bad"),
    ("better", "worse"),
    ("best", "worst"),
    ("increase", "decrease"),
    ("buy", "sell"),
    ("cheap", "expensive"),
    ("easy", "hard"),
    ("rich", "poor"),
    ("old", "new"),
    ("win", "lose"),
    ("start", "stop"),
    ("love", "hate"),
    ("first", "last"),
    ("high", "low"),
    ("big", "small"),
    ("fast", "slow"),
    ("true", "false"),
    ("always", "never"),
    ("legal", "illegal"),
    ("possible", "impossible"),
    ("men", "women"),
    ("male", "female"),
    ("become", "be"),
    ("becoming", "being"),
)
"""Word pairs whose substitution changes a question's meaning (both directions are used)."""

NEGATE: dict[str, str] = {
    "is": "isn't",
    "are": "aren't",
    "was": "wasn't",
    "were": "weren't",
    "can": "can't",
    "could": "couldn't",
    "do": "don't",
    "does": "doesn't",
    "did": "didn't",
    "should": "shouldn't",
    "would": "wouldn't",
    "will": "won't",
    "has": "hasn't",
    "must": "mustn't",
}
"""Auxiliary verbs and their negated forms ("negation" augmentation)."""
AFFIRM_EXTRA: dict[str, str] = {"cannot": "can", "won't": "will"}
"""Negated forms not in `NEGATE`'s values, with the affirmative each is turned back into."""

COMPARATIVES: tuple[tuple[str, str], ...] = (
    ("better", "worse"),
    ("bigger", "smaller"),
    ("larger", "smaller"),
    ("faster", "slower"),
    ("stronger", "weaker"),
    ("richer", "poorer"),
    ("older", "younger"),
    ("taller", "shorter"),
    ("longer", "shorter"),
    ("harder", "easier"),
    ("higher", "lower"),
    ("smarter", "dumber"),
    ("cheaper", "costlier"),
    ("safer", "riskier"),
    ("greater", "lesser"),
)
"""(comparative, its converse): "X is better than Y" says what "Y is worse than X" says.
Every word of a pair anchors a comparison ("X ... than Y") the rules swap."""

BECOME_VERBS = ("become", "becomes", "turn into")
GROUP_NOUNS = ("people", "men", "women", "kids", "children", "students")
"""Subjects of "bad people become good" (the "swap" augmentation's third pattern)."""

ASYMMETRIC_VERBS: tuple[str, ...] = (
    "love", "loves", "loved", "hate", "hates", "hated", "kill", "kills", "killed",
    "attack", "attacks", "attacked", "invade", "invades", "invaded", "defeat", "defeats",
    "defeated", "beat", "beats", "hire", "hires", "hired", "pay", "pays", "paid", "owe",
    "owes", "owed", "help", "helps", "helped", "follow", "follows", "followed", "betray",
    "betrays", "betrayed", "bully", "bullies", "bullied",
)  # fmt: skip
"""Verbs whose subject and object cannot be exchanged without changing who does what to whom
("Did Japan attack China?" / "Did China attack Japan?")."""

SEQUENCE_VERBS: tuple[str, ...] = (
    "learn", "study", "watch", "read", "visit", "play", "use", "take", "try", "install", "do",
    "get", "pursue", "complete", "join",
)  # fmt: skip
"""Verbs of "learn Python before Java": two things done one after the other."""

EVENT_CONNECTIVES: tuple[tuple[str, str], ...] = (("before", "after"),)
"""(connective, its converse): "A before B" happens in the order "B after A" says."""

SYMMETRIC_MARKERS: tuple[str, ...] = ("between", "vs", "vs.", "versus", "compare")
"""Heads of relations symmetric in their two arguments ("the difference between X and Y",
"X vs Y", "compare X and Y")."""

DIRECTION_MARKERS: tuple[tuple[str, str], ...] = (("from", "to"), ("convert", "to"))
"""A path with a start and an end ("from X to Y", "convert X to Y")."""

WORD_LISTS: dict[str, tuple[object, ...]] = {
    "ANTONYMS": ANTONYMS,
    "NEGATE": tuple(NEGATE.items()),
    "AFFIRM_EXTRA": tuple(AFFIRM_EXTRA.items()),
    "COMPARATIVES": COMPARATIVES,
    "BECOME_VERBS": BECOME_VERBS,
    "GROUP_NOUNS": GROUP_NOUNS,
    "ASYMMETRIC_VERBS": ASYMMETRIC_VERBS,
    "SEQUENCE_VERBS": SEQUENCE_VERBS,
    "EVENT_CONNECTIVES": EVENT_CONNECTIVES,
    "SYMMETRIC_MARKERS": SYMMETRIC_MARKERS,
    "DIRECTION_MARKERS": DIRECTION_MARKERS,
}
"""Every word list above, by name (what the disjointness test reads)."""
