"""The behavioural suite: tests generated from templates and word lists (`lexicon`), run
against any fitted pair model.

Three kinds of test, after CheckList (Ribeiro et al., 2020):

- **mft** (minimum functionality): each case is a pair with a fixed expected label; a
  failure is a decision (`predict`, at the model's own threshold) that differs from it;
- **inv** (invariance): each case is a base pair and a perturbed copy that means the same;
  a failure is a score (P(match)) that moves by more than `tolerance`;
- **dir** (directional): each case is a base pair and a copy that should score lower; a
  failure is a score that does not go down.

Every test belongs to a template *family* (the kind of edit its pairs differ by) and says
which training-pair augmentations (`pairlm.data.augment` kinds) produce pairs of that family:
a family one of them covers is **seen**, the others **unseen**. The suite's templates and word
lists are its own (`lexicon`), apart from the augmentation's, so a seen family is measured on
new words and templates, an unseen one on a behaviour no augmentation trains; the summary
gives the failure rates of both apart.

Generation is a pure function of (n, seed): the same suite every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.evaluation.behaviour import generators as G
from pairlm.evaluation.behaviour.cases import Case, Pair

Kind = Literal["mft", "inv", "dir"]
Order = Literal["asymmetric", "symmetric"]


@dataclass(frozen=True)
class BehaviourTest:
    name: str
    kind: Kind
    capability: str
    description: str
    candidates: Callable[[np.random.Generator], list[Case]]
    """Every case the test can draw from (deduplicated, then sampled under the seed)."""
    expected: int | None = None
    """mft only: the label every case should get (1 duplicate, 0 not)."""
    family: str = ""
    """The template family: the kind of edit the test's pairs differ by."""
    covered_by: tuple[str, ...] = ()
    """The augmentation kinds that make pairs of this family (empty: none, "unseen")."""
    order: Order | None = None
    """Word-order tests: "asymmetric" (a reordering that changes the question) or
    "symmetric" (one that keeps it)."""

    @property
    def seen(self) -> bool:
        return bool(self.covered_by)


@dataclass
class BehaviourResult:
    name: str
    kind: Kind
    capability: str
    description: str
    n: int
    failures: int
    expected: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    mean_abs_change: float | None = None
    """inv/dir tests: the mean |score change| from the base pair (mft: None)."""
    family: str = ""
    covered_by: tuple[str, ...] = ()
    order: Order | None = None

    @property
    def seen(self) -> bool:
        return bool(self.covered_by)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "capability": self.capability,
            "description": self.description,
            "n": self.n,
            "failures": self.failures,
            "failure_rate": round(self.failure_rate, 6),
            "expected": self.expected,
            "examples": self.examples,
            "mean_abs_change": self.mean_abs_change,
            "family": self.family,
            "seen": self.seen,
            "covered_by": list(self.covered_by),
            "order": self.order,
        }


@dataclass
class BehaviourReport:
    """The failure rates of one model on the suite."""

    results: list[BehaviourResult]
    n: int
    seed: int
    tolerance: float
    model: dict[str, Any] = field(default_factory=dict)

    def mean_failure_rate(
        self, kind: Kind | None = None, seen: bool | None = None, order: Order | None = None
    ) -> float | None:
        """The mean failure rate of the tests of `kind`, seen or unseen families, asymmetric
        or symmetric reorderings (None: any); None when no test is of that sort."""
        rates = [
            r.failure_rate
            for r in self.results
            if (kind is None or r.kind == kind)
            and (seen is None or r.seen == seen)
            and (order is None or r.order == order)
        ]
        return float(np.mean(rates)) if rates else None

    def rate(self, name: str) -> float | None:
        return next((r.failure_rate for r in self.results if r.name == name), None)

    def summary(self) -> dict[str, Any]:
        return {
            "tests": len(self.results),
            "cases": sum(r.n for r in self.results),
            "mft_mean_failure_rate": _round(self.mean_failure_rate("mft")),
            "inv_mean_failure_rate": _round(self.mean_failure_rate("inv")),
            "dir_mean_failure_rate": _round(self.mean_failure_rate("dir")),
            "symmetry_failure_rate": _round(self.rate("inv_symmetry")),
            "seen_mean_failure_rate": _round(self.mean_failure_rate(seen=True)),
            "unseen_mean_failure_rate": _round(self.mean_failure_rate(seen=False)),
            "mft_seen_mean_failure_rate": _round(self.mean_failure_rate("mft", seen=True)),
            "mft_unseen_mean_failure_rate": _round(self.mean_failure_rate("mft", seen=False)),
            "asymmetric_swap_failure_rate": _round(self.mean_failure_rate(order="asymmetric")),
            "symmetric_swap_failure_rate": _round(self.mean_failure_rate(order="symmetric")),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": {"n": self.n, "seed": self.seed, "tolerance": self.tolerance},
            "model": self.model,
            "summary": self.summary(),
            "tests": [r.to_dict() for r in self.results],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


TESTS: tuple[BehaviourTest, ...] = (
    BehaviourTest(
        "mft_name",
        "mft",
        "vocabulary: entities",
        "The same question about two different people ('How old is Emma Smith?' / 'How old "
        "is Omar Khan?'): not duplicates.",
        G.mft_name,
        0,
        family="entity: person",
        covered_by=("name",),
    ),
    BehaviourTest(
        "mft_number",
        "mft",
        "vocabulary: numbers",
        "The same question with another number ('Can I lose 5 kg in a month?' / '... 20 kg "
        "...'): not duplicates.",
        G.mft_number,
        0,
        family="number",
        covered_by=("number",),
    ),
    BehaviourTest(
        "mft_place",
        "mft",
        "vocabulary: entities",
        "The same question about two different places ('Is it safe to travel to Cairo?' / "
        "'... to Oslo?'): not duplicates.",
        G.mft_place,
        0,
        family="entity: place",
        covered_by=("name",),
    ),
    BehaviourTest(
        "mft_date",
        "mft",
        "vocabulary: dates",
        "The same question about another year or month ('Who won the World Cup in 1998?' / "
        "'... in 2014?'): not duplicates.",
        G.mft_date,
        0,
        family="date",
        covered_by=("number", "name"),
    ),
    BehaviourTest(
        "mft_negation",
        "mft",
        "negation",
        "A question and its negation by an auxiliary ('Why do people drink coffee?' / 'Why "
        "don't people drink coffee?'): not duplicates.",
        G.mft_negation,
        0,
        family="negation: auxiliary",
        covered_by=("negation",),
    ),
    BehaviourTest(
        "mft_negation_lexical",
        "mft",
        "negation",
        "A question and its negation by a word other than 'not' ('Why do farmers keep bees?' "
        "/ 'Why do farmers seldom keep bees?'; rarely, refuse to, uncommon, no): not "
        "duplicates.",
        G.mft_negation_lexical,
        0,
        family="negation: lexical",
    ),
    BehaviourTest(
        "mft_modifier",
        "mft",
        "modifiers",
        "A modifier that changes what is asked ('Do all dentists keep bees?' / 'Do any "
        "dentists keep bees?'; most/few, only, for fun / for a living, pretend to): not "
        "duplicates.",
        G.mft_modifier,
        0,
        family="modifier",
    ),
    BehaviourTest(
        "mft_comparative",
        "mft",
        "comparatives",
        "One comparative word changed: earlier/later, crispier/softer, during/instead of, "
        "wiser/sillier ('Is it wise to nap at noon during breakfast?' / '... instead of "
        "breakfast?'): not duplicates.",
        G.mft_comparative,
        0,
        family="comparative word",
        covered_by=("antonym",),
    ),
    BehaviourTest(
        "mft_antonym",
        "mft",
        "antonyms",
        "One word swapped for another that changes the question: working as/dating, own/"
        "lack, great/terrible, safe/dangerous ('What is it like working as a doctor?' / "
        "'What is it like dating a doctor?'): not duplicates.",
        G.mft_contrast,
        0,
        family="antonym",
        covered_by=("antonym",),
    ),
    BehaviourTest(
        "mft_change_direction",
        "mft",
        "direction of a change",
        "The same change in the other direction ('Will house prices in Oslo rise next year?' "
        "/ '... fall next year?'; climb/drop, grow/shrink, go up/go down): not duplicates.",
        G.mft_change_direction,
        0,
        family="change direction",
        covered_by=("antonym",),
    ),
    BehaviourTest(
        "mft_asymmetric_swap",
        "mft",
        "word order: roles",
        "The arguments of an asymmetric relation swapped ('Is Python sturdier than Java?' / "
        "'Is Java sturdier than Python?'; 'relocate to Rome if I live in Paris' / '... to "
        "Paris if I live in Rome'; 'Can a shy person grow confident?' / 'Can a confident "
        "person grow shy?'): not duplicates.",
        G.mft_asymmetric,
        0,
        family="asymmetric swap",
        covered_by=("swap", "wordorder"),
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_comparison_direction",
        "mft",
        "word order: comparison",
        "The two sides of a comparison swapped ('Is Paris warmer than Rome?' / 'Is Rome "
        "warmer than Paris?'; 'Is a Pixel heavier than a Mac?'): not duplicates.",
        G.mft_comparison_direction,
        0,
        family="comparison direction",
        covered_by=("swap", "wordorder"),
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_role_swap",
        "mft",
        "word order: roles",
        "Subject and object of an asymmetric verb swapped ('Does Emma trust Liam?' / 'Does "
        "Liam trust Emma?'; 'Why did Google acquire Uber?' / 'Why did Uber acquire "
        "Google?'): not duplicates.",
        G.mft_role_swap,
        0,
        family="role swap",
        covered_by=("wordorder",),
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_role_swap_prepositional",
        "mft",
        "word order: roles",
        "Two roles swapped around a relation carried by a preposition ('Can a doctor work "
        "for a nurse?' / 'Can a nurse work for a doctor?'; report to, take orders from): not "
        "duplicates.",
        G.mft_role_swap_prepositional,
        0,
        family="role swap: prepositional",
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_event_order",
        "mft",
        "word order: events",
        "Two events swapped around before/after ('Should I sell my car before I move "
        "abroad?' / 'Should I move abroad before I sell my car?'): not duplicates.",
        G.mft_event_order,
        0,
        family="event order",
        covered_by=("wordorder",),
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_event_sequence",
        "mft",
        "word order: events",
        "Two events swapped around 'first ... and then' ('Should I sign the lease first and "
        "then book the flight?' / 'Should I book the flight first and then sign the "
        "lease?'): not duplicates.",
        G.mft_event_sequence,
        0,
        family="event sequence",
        order="asymmetric",
    ),
    BehaviourTest(
        "mft_symmetric_swap",
        "mft",
        "word order: roles",
        "The arguments of a symmetric relation swapped ('Is tea the same as coffee?' / 'Is "
        "coffee the same as tea?'): duplicates.",
        G.mft_symmetric,
        1,
        family="symmetric swap",
        covered_by=("wordorder",),
        order="symmetric",
    ),
    BehaviourTest(
        "mft_comparison_converse",
        "mft",
        "word order: comparison",
        "A comparison told from its other side ('Is Paris warmer than Rome?' / 'Is Rome "
        "colder than Paris?'): duplicates.",
        G.mft_comparison_converse,
        1,
        family="comparison converse",
        covered_by=("wordorder",),
        order="symmetric",
    ),
    BehaviourTest(
        "mft_event_fronting",
        "mft",
        "word order: events",
        "The time clause moved to the front, the events in the same order ('Should I sell my "
        "car before I move abroad?' / 'Before I move abroad, should I sell my car?'): "
        "duplicates.",
        G.mft_event_fronting,
        1,
        family="clause fronting",
        order="symmetric",
    ),
    BehaviourTest(
        "mft_active_passive",
        "mft",
        "syntax: voice",
        "Active and passive with the same roles ('Did Edison invent the light bulb?' / 'Was "
        "the light bulb invented by Edison?'): duplicates.",
        G.mft_active_passive,
        1,
        family="voice",
    ),
    BehaviourTest(
        "mft_identity",
        "mft",
        "identity",
        "A question paired with itself: duplicates.",
        G.mft_identity,
        1,
        family="identity",
    ),
    BehaviourTest(
        "inv_typo",
        "inv",
        "robustness: typos",
        "One word of one side with a typo (a neighbouring key, two letters swapped, a letter "
        "doubled): the score stays within the tolerance.",
        G.inv(G.typo),
        family="typo",
        covered_by=("typo",),
    ),
    BehaviourTest(
        "inv_casing",
        "inv",
        "robustness: casing",
        "One side lower-cased, upper-cased or with its first letter lower-cased: the score "
        "stays within the tolerance.",
        G.inv(G.casing),
        family="casing",
        covered_by=("casing",),
    ),
    BehaviourTest(
        "inv_punctuation",
        "inv",
        "robustness: punctuation",
        "One side's question mark dropped, doubled or spaced: the score stays within the "
        "tolerance.",
        G.inv(G.punctuation),
        family="punctuation",
    ),
    BehaviourTest(
        "inv_contraction",
        "inv",
        "robustness: contractions",
        "One side contracted or expanded ('What is' / 'What's', 'I am' / 'I'm'): the score "
        "stays within the tolerance.",
        G.inv(G.contraction),
        family="contraction",
    ),
    BehaviourTest(
        "inv_trailing",
        "inv",
        "robustness: irrelevant text",
        "Irrelevant text appended to one side ('Thanks in advance.'): the score stays within "
        "the tolerance.",
        G.inv(G.trailing),
        family="irrelevant text",
    ),
    BehaviourTest(
        "inv_symmetry",
        "inv",
        "symmetry",
        "The two texts swapped: the score stays within the tolerance.",
        G.inv_symmetry,
        family="pair order",
        covered_by=("order",),
    ),
    BehaviourTest(
        "dir_contradiction",
        "dir",
        "contradicting detail",
        "A contradicting detail added to one side of a duplicate pair whose other side has "
        "the opposite detail ('How can I learn chess as a beginner?' / 'What is the best way "
        "to learn chess as an expert?'): the score goes down.",
        G.dir_contradiction,
        family="contradicting detail",
    ),
)


def names() -> list[str]:
    return [t.name for t in TESTS]


def generate(
    n: int = 200, seed: int = 0, tests: Iterable[str] | None = None
) -> list[tuple[BehaviourTest, list[Case]]]:
    """`n` cases of each test (fewer only where a test cannot make `n` distinct ones),
    drawn under `seed`: the same suite for the same arguments."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    wanted = list(tests) if tests is not None else names()
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        raise ValueError(f"unknown behaviour test(s) {unknown}; known: {', '.join(names())}")
    out = []
    for i, t in enumerate(TESTS):
        if t.name not in wanted:
            continue
        rng = np.random.default_rng([seed, i])
        cands = list(dict.fromkeys(c for c in t.candidates(rng) if c.pair[0] and c.pair[1]))
        if len(cands) > n:
            pick = np.sort(rng.choice(len(cands), size=n, replace=False))
            cands = [cands[j] for j in pick]
        out.append((t, cands))
    return out


def run_suite(
    model: Any,
    n: int = 200,
    seed: int = 0,
    tolerance: float = 0.1,
    n_examples: int = 3,
    tests: Iterable[str] | None = None,
) -> BehaviourReport:
    """Score every case of the suite with `model` (a fitted `PairClassifier`; every distinct
    pair is scored once) and count the failures of each test."""
    if not 0 <= tolerance <= 1:
        raise ValueError(f"tolerance must be in [0, 1], got {tolerance}")
    suite = generate(n, seed, tests)
    pairs: dict[Pair, int] = {}
    for _, cases in suite:
        for c in cases:
            for pair in (c.pair, c.base):
                if pair is not None and pair not in pairs:
                    pairs[pair] = len(pairs)
    keys = list(pairs)
    ds = PairDataset.from_pairs([a for a, _ in keys], [b for _, b in keys], name="behaviour")
    proba = np.asarray(model.predict_proba(ds), dtype=np.float64)
    threshold = float(model.threshold_)
    results = []
    for t, cases in suite:
        failing: list[dict[str, Any]] = []
        fails = 0
        changes: list[float] = []
        for c in cases:
            p = float(proba[pairs[c.pair]])
            if t.kind == "mft":
                pred = int(p >= threshold)
                bad = pred != t.expected
                ex = {"text_a": c.pair[0], "text_b": c.pair[1], "score": round(p, 4)}
            else:
                assert c.base is not None
                p0 = float(proba[pairs[c.base]])
                bad = abs(p - p0) > tolerance if t.kind == "inv" else not p < p0
                changes.append(abs(p - p0))
                ex = {
                    "base": list(c.base),
                    "changed": list(c.pair),
                    "base_score": round(p0, 4),
                    "score": round(p, 4),
                }
            if bad:
                fails += 1
                if len(failing) < n_examples:
                    failing.append(ex)
        results.append(
            BehaviourResult(
                t.name,
                t.kind,
                t.capability,
                t.description,
                len(cases),
                fails,
                t.expected,
                failing,
                round(float(np.mean(changes)), 6) if changes else None,
                t.family,
                t.covered_by,
                t.order,
            )
        )
    info = {
        "family": getattr(model, "family", type(model).__name__),
        "threshold": threshold,
        "pairs_scored": len(keys),
    }
    return BehaviourReport(results, n, seed, tolerance, info)
