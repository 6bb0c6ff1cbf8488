"""The cases of each behavioural test, generated from the suite's templates and word lists
(`lexicon`): pure functions of a `numpy` generator."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from pairlm.evaluation.behaviour import lexicon as L
from pairlm.evaluation.behaviour.cases import Case, Pair


# ---------------------------------------------------------------------- helpers
def _names() -> list[str]:
    return [f"{f} {s}" for f, s in itertools.product(L.FIRST_NAMES, L.LAST_NAMES)]


def _fill(frame: str, rng: np.random.Generator | int, **fixed: str) -> str:
    """Fill `frame`'s other placeholders ({role}, {skill}, {place}, {act}, {food}, {tool})
    with words drawn from the lexicon (by `rng`, or by a `random.Random` seeded with it when
    it is an int: the same int fills two frames alike)."""
    pools: dict[str, Any] = {
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


def typo(text: str, rng: np.random.Generator) -> str | None:
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


def casing(text: str, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if r < 0.4:
        return text.lower()
    if r < 0.7:
        return text.upper()
    return text[:1].lower() + text[1:]


def punctuation(text: str, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if text.endswith("?") and r < 0.5:
        return text[:-1]
    if r < 0.75:
        return text.rstrip("?") + "??"
    return text.rstrip("?") + " ?"


def contraction(text: str, rng: np.random.Generator) -> str | None:
    for long, short in L.CONTRACTIONS:
        if re.search(rf"\b{re.escape(long)}\b", text):
            return re.sub(rf"\b{re.escape(long)}\b", short, text, count=1)
        if short in text:
            return text.replace(short, long, 1)
    return None


def trailing(text: str, rng: np.random.Generator) -> str | None:
    return text + L.TRAILING[int(rng.integers(len(L.TRAILING)))]


# ---------------------------------------------------------------------- the tests
def mft_name(rng: np.random.Generator) -> list[Case]:
    return _change(L.NAME_FRAMES, rng.choice(_names(), size=40, replace=False), rng, k=2)


def mft_number(rng: np.random.Generator) -> list[Case]:
    return _change(L.NUMBER_FRAMES, L.NUMBERS, rng, k=3)


def mft_place(rng: np.random.Generator) -> list[Case]:
    return _change(L.PLACE_FRAMES, L.PLACES, rng, k=3)


def mft_date(rng: np.random.Generator) -> list[Case]:
    years = [str(y) for y in L.YEARS]
    return _change(L.YEAR_FRAMES, years, rng, k=2) + _change(L.MONTH_FRAMES, L.MONTHS, rng, k=3)


def mft_negation(rng: np.random.Generator) -> list[Case]:
    out = []
    for pos, neg in L.NEGATION_FRAMES:
        for act in L.ACTIVITIES:
            a, b = pos.format(x=act), neg.format(x=act)
            out.append(Case((a, b) if rng.random() < 0.5 else (b, a)))
    return out


def mft_comparative(rng: np.random.Generator) -> list[Case]:
    return _word_contrast(L.COMPARATIVE_FRAMES, rng)


def mft_contrast(rng: np.random.Generator) -> list[Case]:
    return _word_contrast(L.CONTRAST_FRAMES, rng)


def mft_asymmetric(rng: np.random.Generator) -> list[Case]:
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


def mft_symmetric(rng: np.random.Generator) -> list[Case]:
    return _swap_frames(L.SYMMETRIC_FRAMES, _comparable_pairs())


def mft_active_passive(rng: np.random.Generator) -> list[Case]:
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


def mft_identity(rng: np.random.Generator) -> list[Case]:
    return [Case((q, q)) for q in _all_questions(rng)]


def inv(edit: Callable[[str, np.random.Generator], str | None]) -> Callable[..., list[Case]]:
    return lambda rng: _perturbed(rng, edit)


def inv_symmetry(rng: np.random.Generator) -> list[Case]:
    return [Case((b, a), base=(a, b)) for a, b in _paraphrase_pairs(rng)]


def dir_contradiction(rng: np.random.Generator) -> list[Case]:
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


# ---------------------------------------------------------------------- word order, events,
# modifiers (issue 44)
def _either_order(rng: np.random.Generator, a: str, b: str) -> Case:
    return Case((a, b) if rng.random() < 0.5 else (b, a))


def _comparisons(converse: bool, rng: np.random.Generator) -> list[Case]:
    """The same comparison with its sides swapped: with the same comparative (not
    duplicates), or with its converse (duplicates: "Is X heavier than Y?" / "Is Y lighter
    than X?")."""
    out = []
    groups = ((L.CITIES, L.PLACE_COMPARATIVES), (L.OBJECTS, L.OBJECT_COMPARATIVES))
    for things, comparatives in groups:
        for frame in L.COMPARISON_FRAMES:
            for x, y in _two_of(things):
                for c, other in comparatives:
                    for c1, c2 in ((c, other), (other, c)):
                        a = frame.format(x=x, y=y, c=c1)
                        b = frame.format(x=y, y=x, c=c2 if converse else c1)
                        out.append(_either_order(rng, a, b))
    return out


def mft_comparison_direction(rng: np.random.Generator) -> list[Case]:
    return _comparisons(False, rng)


def mft_comparison_converse(rng: np.random.Generator) -> list[Case]:
    return _comparisons(True, rng)


def mft_change_direction(rng: np.random.Generator) -> list[Case]:
    out = []
    for frame in L.CHANGE_FRAMES:
        for up, down in L.CHANGE_VERBS:
            for _ in range(8):
                seed = int(rng.integers(2**31))
                company = L.COMPANIES[seed % len(L.COMPANIES)]
                a = _fill(frame, seed, w=up, company=company)
                b = _fill(frame, seed, w=down, company=company)
                out.append(_either_order(rng, a, b))
    return out


def _event_pairs() -> list[tuple[str, str]]:
    return _two_of(L.EVENTS)


def mft_event_order(rng: np.random.Generator) -> list[Case]:
    """Two events swapped around "before"/"after": the order of events is reversed."""
    return [
        _either_order(rng, f.format(e1=x, e2=y), f.format(e1=y, e2=x))
        for f in L.EVENT_ORDER_FRAMES
        for x, y in _event_pairs()
    ]


def mft_event_fronting(rng: np.random.Generator) -> list[Case]:
    """The time clause moved to the front: the same events in the same order."""
    return [
        _either_order(rng, fa.format(e1=x, e2=y), fb.format(e1=x, e2=y))
        for fa, fb in L.EVENT_FRONTING
        for x, y in _event_pairs()
    ]


def mft_event_sequence(rng: np.random.Generator) -> list[Case]:
    """Two events swapped around "first ... then": the order of events is reversed."""
    return [
        _either_order(rng, f.format(e1=x, e2=y), f.format(e1=y, e2=x))
        for f in L.EVENT_SEQUENCE_FRAMES
        for x, y in _event_pairs()
    ]


def mft_role_swap(rng: np.random.Generator) -> list[Case]:
    """Subject and object of an asymmetric verb swapped: who does what to whom changes."""
    out = []
    people = _two_of(L.FIRST_NAMES[:12])
    for f in L.ROLE_FRAMES:
        for v in L.ROLE_VERBS:
            for i in rng.choice(len(people), size=6, replace=False):
                a, b = people[int(i)]
                out.append(_either_order(rng, f.format(a=a, v=v, b=b), f.format(a=b, v=v, b=a)))
    firms = _two_of(L.COMPANIES)
    for f in L.FIRM_FRAMES:
        for v in L.FIRM_VERBS:
            for i in rng.choice(len(firms), size=10, replace=False):
                a, b = firms[int(i)]
                out.append(_either_order(rng, f.format(a=a, v=v, b=b), f.format(a=b, v=v, b=a)))
    return out


def mft_role_swap_prepositional(rng: np.random.Generator) -> list[Case]:
    """Two roles swapped around a prepositional relation ("work for", "report to")."""
    return [
        _either_order(rng, f.format(x=x, y=y), f.format(x=y, y=x))
        for f in L.ROLE_PREP_FRAMES
        for x, y in _two_of(L.ROLES)
    ]


def _frame_pairs(frames: Iterable[tuple[str, str]], rng: np.random.Generator) -> list[Case]:
    return [
        _either_order(rng, fa.format(g=g, h=h), fb.format(g=g, h=h))
        for fa, fb in frames
        for g in L.GROUPS
        for h in L.HOBBIES
    ]


def mft_modifier(rng: np.random.Generator) -> list[Case]:
    return _frame_pairs(L.MODIFIER_FRAMES, rng)


def mft_negation_lexical(rng: np.random.Generator) -> list[Case]:
    return _frame_pairs(L.LEXICAL_NEGATION_FRAMES, rng)
