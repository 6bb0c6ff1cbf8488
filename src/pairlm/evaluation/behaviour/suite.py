"""The behavioural suite: tests generated from templates and word lists (`lexicon`), run
against any fitted pair model.

Three kinds of test, after CheckList (Ribeiro et al., 2020):

- **mft** (minimum functionality): each case is a pair with a fixed expected label; a
  failure is a decision (`predict`, at the model's own threshold) that differs from it;
- **inv** (invariance): each case is a base pair and a perturbed copy that means the same;
  a failure is a score (P(match)) that moves by more than `tolerance`;
- **dir** (directional): each case is a base pair and a copy that should score lower; a
  failure is a score that does not go down.

Generation is a pure function of (n, seed): the same suite every time.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.evaluation.behaviour import lexicon as L

Kind = Literal["mft", "inv", "dir"]
Pair = tuple[str, str]


@dataclass(frozen=True)
class Case:
    """One probe: `pair` is scored; for inv/dir tests, `base` is the pair it is compared with."""

    pair: Pair
    base: Pair | None = None


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
        }


@dataclass
class BehaviourReport:
    """The failure rates of one model on the suite."""

    results: list[BehaviourResult]
    n: int
    seed: int
    tolerance: float
    model: dict[str, Any] = field(default_factory=dict)

    def mean_failure_rate(self, kind: Kind) -> float | None:
        rates = [r.failure_rate for r in self.results if r.kind == kind]
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


# ---------------------------------------------------------------------- helpers
def _names() -> list[str]:
    return [f"{f} {s}" for f, s in itertools.product(L.FIRST_NAMES, L.LAST_NAMES)]


def _fill(frame: str, rng: np.random.Generator | int, **fixed: str) -> str:
    """Fill `frame`'s other placeholders ({role}, {skill}, {place}, {act}, {food}, {tool})
    with words drawn from the lexicon (by `rng`, or by a `random.Random` seeded with it when
    it is an int: the same int fills two frames alike)."""
    pools = {
        "role": L.ROLES,
        "skill": L.SKILLS,
        "place": L.PLACES,
        "act": L.ACTIVITIES,
        "food": L.FOODS,
        "tool": L.TOOLS,
    }
    pick = (
        random.Random(rng).randrange if isinstance(rng, int) else (lambda n: int(rng.integers(n)))  # type: ignore[union-attr]
    )
    values = dict(fixed)
    for key in re.findall(r"\{(\w+)\}", frame):
        if key not in values:
            pool = pools[key]
            values[key] = str(pool[pick(len(pool))])
    return frame.format(**values)


def _change(
    frames: Iterable[str], values: Iterable[Any], rng: np.random.Generator, k: int = 6
) -> list[Case]:
    """Pairs of one frame filled with two different values of `values` (the rest equal)."""
    vals = [str(v) for v in values]
    out = []
    for frame in frames:
        for v in vals:
            others = [w for w in vals if w != v]
            for w in rng.choice(others, size=min(k, len(others)), replace=False):
                # the same draw of the other placeholders on both sides
                seed = int(rng.integers(2**31))
                a = _fill(frame, seed, x=v)
                b = _fill(frame, seed, x=str(w))
                out.append(Case((a, b)))
    return out


def _two_of(group: Iterable[str]) -> list[tuple[str, str]]:
    return list(itertools.permutations(group, 2))


def _comparable_pairs() -> list[tuple[str, str]]:
    return [p for g in L.COMPARABLES for p in _two_of(g)]


def _swap_frames(frames: Iterable[str], pairs: list[tuple[str, str]]) -> list[Case]:
    return [
        Case((f.format(x=x, y=y), f.format(x=y, y=x))) for f in frames for x, y in pairs if x != y
    ]


def _word_contrast(frames: Iterable[tuple[str, str, str]], rng: np.random.Generator) -> list[Case]:
    out = []
    for frame, w1, w2 in frames:
        for _ in range(40):
            seed = int(rng.integers(2**31))
            a = _fill(frame, seed, w=w1)
            b = _fill(frame, seed, w=w2)
            out.append(Case((a, b) if rng.random() < 0.5 else (b, a)))
    return out


def _all_questions(rng: np.random.Generator) -> list[str]:
    qs: list[str] = []
    names = _names()
    for f in L.NAME_FRAMES:
        qs += [_fill(f, rng, x=names[int(rng.integers(len(names)))]) for _ in range(10)]
    for f in L.PLACE_FRAMES:
        qs += [_fill(f, rng, x=p) for p in L.PLACES[:10]]
    for a, b in L.PARAPHRASES:
        qs += [_fill(a, rng), _fill(b, rng)]
    for a, _ in L.NEGATION_FRAMES:
        qs += [_fill(a, rng, x=x) for x in L.ACTIVITIES[:8]]
    return qs


def _paraphrase_pairs(rng: np.random.Generator, k: int = 60) -> list[Pair]:
    """Base pairs of the invariance tests: half duplicates (a frame and its paraphrase, same
    filler), half not (the same frames with two different fillers)."""
    out: list[Pair] = []
    for fa, fb in L.PARAPHRASES:
        for i in range(k):
            seed = int(rng.integers(2**31))
            a = _fill(fa, seed)
            b = _fill(fb, seed) if i % 2 == 0 else _fill(fb, rng)
            if i % 4 >= 2:
                a, b = b, a
            out.append((a, b))
    return out


def _perturbed(
    rng: np.random.Generator, edit: Callable[[str, np.random.Generator], str | None]
) -> list[Case]:
    """Each base pair with one side edited by `edit` (skipped where it does not apply)."""
    out = []
    for a, b in _paraphrase_pairs(rng):
        side = int(rng.integers(2))
        new = edit(b if side else a, rng)
        if new is None or new == (b if side else a):
            continue
        out.append(Case((a, new) if side else (new, b), base=(a, b)))
    return out


def _typo(text: str, rng: np.random.Generator) -> str | None:
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return None
    m = words[int(rng.integers(len(words)))]
    w = m.group(0)
    i = int(rng.integers(1, len(w)))
    c = w[i].lower()
    if rng.random() < 0.5 and c in L.TYPO_NEIGHBOURS:  # a neighbouring key
        nb = L.TYPO_NEIGHBOURS[c]
        new = w[:i] + nb[int(rng.integers(len(nb)))] + w[i + 1 :]
    elif i < len(w) - 1 and w[i] != w[i + 1]:  # two letters swapped
        new = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    else:  # a letter doubled
        new = w[: i + 1] + w[i] + w[i + 1 :]
    return text[: m.start()] + new + text[m.end() :]


def _casing(text: str, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if r < 0.4:
        return text.lower()
    if r < 0.7:
        return text.upper()
    return text[:1].lower() + text[1:]


def _punctuation(text: str, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if text.endswith("?") and r < 0.5:
        return text[:-1]
    if r < 0.75:
        return text.rstrip("?") + "??"
    return text.rstrip("?") + " ?"


def _contraction(text: str, rng: np.random.Generator) -> str | None:
    for long, short in L.CONTRACTIONS:
        if re.search(rf"\b{re.escape(long)}\b", text):
            return re.sub(rf"\b{re.escape(long)}\b", short, text, count=1)
        if short in text:
            return text.replace(short, long, 1)
    return None


def _trailing(text: str, rng: np.random.Generator) -> str | None:
    return text + L.TRAILING[int(rng.integers(len(L.TRAILING)))]


# ---------------------------------------------------------------------- the tests
def _mft_name(rng: np.random.Generator) -> list[Case]:
    return _change(L.NAME_FRAMES, rng.choice(_names(), size=40, replace=False), rng, k=2)


def _mft_number(rng: np.random.Generator) -> list[Case]:
    return _change(L.NUMBER_FRAMES, L.NUMBERS, rng, k=3)


def _mft_place(rng: np.random.Generator) -> list[Case]:
    return _change(L.PLACE_FRAMES, L.PLACES, rng, k=3)


def _mft_date(rng: np.random.Generator) -> list[Case]:
    years = [str(y) for y in L.YEARS]
    return _change(L.YEAR_FRAMES, years, rng, k=2) + _change(L.MONTH_FRAMES, L.MONTHS, rng, k=3)


def _mft_negation(rng: np.random.Generator) -> list[Case]:
    out = []
    for pos, neg in L.NEGATION_FRAMES:
        for act in L.ACTIVITIES:
            a, b = pos.format(x=act), neg.format(x=act)
            out.append(Case((a, b) if rng.random() < 0.5 else (b, a)))
    return out


def _mft_comparative(rng: np.random.Generator) -> list[Case]:
    return _word_contrast(L.COMPARATIVE_FRAMES, rng)


def _mft_contrast(rng: np.random.Generator) -> list[Case]:
    return _word_contrast(L.CONTRAST_FRAMES, rng)


def _mft_asymmetric(rng: np.random.Generator) -> list[Case]:
    places = _two_of(L.PLACES[:12])
    formats = _two_of(L.FORMATS)
    become = [
        Case((f.format(x=x, y=y, noun=n), f.format(x=y, y=x, noun=n)))
        for f in L.BECOME_FRAMES
        for x, y in L.BECOME
        for n in L.PERSON_NOUNS[:3]
    ]
    return (
        _swap_frames(L.ASYMMETRIC_FRAMES, _comparable_pairs())
        + _swap_frames(L.MOVE_FRAMES, places)
        + _swap_frames(L.CONVERT_FRAMES, formats)
        + become
    )


def _mft_symmetric(rng: np.random.Generator) -> list[Case]:
    return _swap_frames(L.SYMMETRIC_FRAMES, _comparable_pairs())


def _mft_active_passive(rng: np.random.Generator) -> list[Case]:
    fillers = {
        0: list(L.INVENTIONS),
        1: list(L.BOOKS),
        2: _two_of(L.COMPANIES),
        3: _two_of(L.TEAMS),
        4: _two_of(L.COMPANIES),
    }
    out = []
    for i, (act, pas) in enumerate(L.ACTIVE_PASSIVE):
        for x, y in fillers[i]:
            a, b = act.format(x=x, y=y), pas.format(x=x, y=y)
            out.append(Case((a, b) if rng.random() < 0.5 else (b, a)))
    return out


def _mft_identity(rng: np.random.Generator) -> list[Case]:
    return [Case((q, q)) for q in _all_questions(rng)]


def _inv(edit: Callable[[str, np.random.Generator], str | None]) -> Callable[..., list[Case]]:
    return lambda rng: _perturbed(rng, edit)


def _inv_symmetry(rng: np.random.Generator) -> list[Case]:
    return [Case((b, a), base=(a, b)) for a, b in _paraphrase_pairs(rng)]


def _dir_contradiction(rng: np.random.Generator) -> list[Case]:
    out = []
    for fa, fb in L.PARAPHRASES:
        for d1, d2 in L.DETAILS:
            for _ in range(3):
                seed = int(rng.integers(2**31))
                a = _fill(fa, seed)
                b = _fill(fb, seed)
                a_d = a.rstrip("?") + f" {d1}?"
                b_d = b.rstrip("?") + f" {d2}?"
                if rng.random() < 0.5:
                    out.append(Case((a_d, b_d), base=(a_d, b)))
                else:
                    out.append(Case((b_d, a_d), base=(b, a_d)))
    return out


TESTS: tuple[BehaviourTest, ...] = (
    BehaviourTest(
        "mft_name",
        "mft",
        "vocabulary: entities",
        "The same question about two different people ('How old is Emma Smith?' / 'How old "
        "is Omar Khan?'): not duplicates.",
        _mft_name,
        0,
    ),
    BehaviourTest(
        "mft_number",
        "mft",
        "vocabulary: numbers",
        "The same question with another number ('Can I lose 5 kg in a month?' / '... 20 kg "
        "...'): not duplicates.",
        _mft_number,
        0,
    ),
    BehaviourTest(
        "mft_place",
        "mft",
        "vocabulary: entities",
        "The same question about two different places ('Is it safe to travel to Cairo?' / "
        "'... to Oslo?'): not duplicates.",
        _mft_place,
        0,
    ),
    BehaviourTest(
        "mft_date",
        "mft",
        "vocabulary: dates",
        "The same question about another year or month ('Who won the World Cup in 1998?' / "
        "'... in 2014?'): not duplicates.",
        _mft_date,
        0,
    ),
    BehaviourTest(
        "mft_negation",
        "mft",
        "negation",
        "A question and its negation ('Why do people drink coffee?' / 'Why don't people "
        "drink coffee?'): not duplicates.",
        _mft_negation,
        0,
    ),
    BehaviourTest(
        "mft_comparative",
        "mft",
        "comparatives",
        "One comparative word changed: more/less, before/after, better/worse ('Is it better "
        "to run before breakfast?' / '... after breakfast?'): not duplicates.",
        _mft_comparative,
        0,
    ),
    BehaviourTest(
        "mft_antonym",
        "mft",
        "antonyms",
        "One word swapped for its opposite: being/becoming, with/without, good/bad, "
        "safe/dangerous ('What is it like being a doctor?' / '... becoming a doctor?'): not "
        "duplicates.",
        _mft_contrast,
        0,
    ),
    BehaviourTest(
        "mft_asymmetric_swap",
        "mft",
        "word order: roles",
        "The arguments of an asymmetric relation swapped ('Is Python better than Java?' / "
        "'Is Java better than Python?'; 'from Paris to Rome' / 'from Rome to Paris'; 'Can a "
        "bad person become good?' / 'Can a good person become bad?'): not duplicates.",
        _mft_asymmetric,
        0,
    ),
    BehaviourTest(
        "mft_symmetric_swap",
        "mft",
        "word order: roles",
        "The arguments of a symmetric relation swapped ('Is tea the same as coffee?' / 'Is "
        "coffee the same as tea?'): duplicates.",
        _mft_symmetric,
        1,
    ),
    BehaviourTest(
        "mft_active_passive",
        "mft",
        "syntax: voice",
        "Active and passive with the same roles ('Did Edison invent the light bulb?' / 'Was "
        "the light bulb invented by Edison?'): duplicates.",
        _mft_active_passive,
        1,
    ),
    BehaviourTest(
        "mft_identity",
        "mft",
        "identity",
        "A question paired with itself: duplicates.",
        _mft_identity,
        1,
    ),
    BehaviourTest(
        "inv_typo",
        "inv",
        "robustness: typos",
        "One word of one side with a typo (a neighbouring key, two letters swapped, a letter "
        "doubled): the score stays within the tolerance.",
        _inv(_typo),
    ),
    BehaviourTest(
        "inv_casing",
        "inv",
        "robustness: casing",
        "One side lower-cased, upper-cased or with its first letter lower-cased: the score "
        "stays within the tolerance.",
        _inv(_casing),
    ),
    BehaviourTest(
        "inv_punctuation",
        "inv",
        "robustness: punctuation",
        "One side's question mark dropped, doubled or spaced: the score stays within the "
        "tolerance.",
        _inv(_punctuation),
    ),
    BehaviourTest(
        "inv_contraction",
        "inv",
        "robustness: contractions",
        "One side contracted or expanded ('What is' / 'What's', 'do not' / 'don't'): the "
        "score stays within the tolerance.",
        _inv(_contraction),
    ),
    BehaviourTest(
        "inv_trailing",
        "inv",
        "robustness: irrelevant text",
        "Irrelevant text appended to one side ('Thanks in advance.'): the score stays within "
        "the tolerance.",
        _inv(_trailing),
    ),
    BehaviourTest(
        "inv_symmetry",
        "inv",
        "symmetry",
        "The two texts swapped: the score stays within the tolerance.",
        _inv_symmetry,
    ),
    BehaviourTest(
        "dir_contradiction",
        "dir",
        "contradicting detail",
        "A contradicting detail added to one side of a duplicate pair whose other side has "
        "the opposite detail ('How can I learn chess as a beginner?' / 'What is the best way "
        "to learn chess as an expert?'): the score goes down.",
        _dir_contradiction,
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
            )
        )
    info = {
        "family": getattr(model, "family", type(model).__name__),
        "threshold": threshold,
        "pairs_scored": len(keys),
    }
    return BehaviourReport(results, n, seed, tolerance, info)
