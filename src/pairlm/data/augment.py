"""Training-pair augmentation: hard negatives and invariance positives made from training pairs.

Behavioural probes show duplicate detectors trained on QQP calling "Is X better than Y?" and
"Is Y better than X?" duplicates, ignoring negation, numbers and names, and moving with typos.
`augment_pairs` adds pairs that teach the opposite, built only from the pairs it is given (the
training part of a fold, never validation or test):

hard negatives (label 0), a question against an edited copy of itself, or against an edited
copy of its duplicate:

- ``swap``: the arguments of an asymmetric relation swapped ("X better than Y" -> "Y better
  than X", "from A to B" -> "from B to A", "A become B" -> "B become A");
- ``negation``: the first auxiliary verb negated ("can" -> "can't") or a negation removed;
- ``number``: a number changed (a year stays a plausible year);
- ``name``: a capitalised word inside the sentence (a person, a place, a product) replaced by
  another capitalised word seen in the *same* training pairs;
- ``antonym``: one word replaced by its opposite (`ANTONYMS`: more/less, before/after,
  with/without, good/bad, ...);

invariance positives (the original label kept):

- ``typo``: one word with two letters swapped or one letter dropped;
- ``casing``: the text lower-cased, or its first letters capitalised;
- ``order``: the two texts swapped (for families that are not symmetric by construction);

word-order pairs, both labels (`pairlm.data.wordorder`, each rule with its label):

- ``wordorder``: a training question against a reordering of itself: sides of a comparison,
  roles around an asymmetric verb, events around before/after, ends of a path swapped (hard
  negatives), or a converse comparison, converse event order, or symmetric relation's
  arguments swapped (hard positives).

A kind may carry its own ratio, ``"wordorder:0.1"``: that many added pairs per training pair
for that kind alone; the kinds without one share `ratio` equally, as before.

Everything is a pure function of (pairs, kinds, ratio, seed): same inputs, same pairs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pairlm.data.augment_lexicon import (
    AFFIRM_EXTRA,
    ANTONYMS,
    BECOME_VERBS,
    COMPARATIVES,
    GROUP_NOUNS,
)
from pairlm.data.augment_lexicon import NEGATE as _NEGATE
from pairlm.data.pairs import PairDataset, concat

NEGATIVE_KINDS = ("swap", "negation", "number", "name", "antonym")
POSITIVE_KINDS = ("typo", "casing", "order")
MIXED_KINDS = ("wordorder",)
"""Kinds that add both labels (`pairlm.data.wordorder`: each rule states its label)."""
KINDS = NEGATIVE_KINDS + POSITIVE_KINDS + MIXED_KINDS
ALIASES = {
    "all": KINDS,
    "negatives": NEGATIVE_KINDS,
    "invariance": POSITIVE_KINDS,
}

_OPPOSITE: dict[str, str] = {}
for _a, _b in ANTONYMS:
    _OPPOSITE.setdefault(_a, _b)
    _OPPOSITE.setdefault(_b, _a)

_AFFIRM = {v: k for k, v in _NEGATE.items()} | AFFIRM_EXTRA
_AUX_RE = re.compile(r"\b(" + "|".join(sorted(_NEGATE, key=len, reverse=True)) + r")\b", re.I)
_NEG_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_AFFIRM, key=len, reverse=True)) + r")(?!\w)",
    re.I,
)
_NOT_RE = re.compile(r"\s+not\b", re.I)
_NUM_RE = re.compile(r"(?<![\w.])(\d{1,4})(?![\w.])")
_WORD_RE = re.compile(r"[A-Za-z]+")
_CAP_RE = re.compile(r"(?<=[a-z,] )([A-Z][a-z]{2,})\b")
_ARG = r"([A-Za-z][\w+#.-]*)"
_ARGS = r"([A-Za-z0-9][\w+#.'-]*(?: [A-Za-z0-9][\w+#.'-]*){0,3}?)"
_COMPARATIVE = (
    "("
    + "|".join(sorted({w for pair in COMPARATIVES for w in pair}, key=len, reverse=True))
    + r"|more \w+|less \w+)"
)
_BECOME = "|".join(BECOME_VERBS)
_SWAP_RES = (
    # "Is X better than Y?": X after the copula, Y up to the end of the clause
    re.compile(
        r"\b(is|are|was|were) "
        + _ARGS
        + r" "
        + _COMPARATIVE
        + r" than "
        + _ARGS
        + r"(?=[?.,!;]|$)",
        re.I,
    ),
    re.compile(r"\bfrom " + _ARG + r" to " + _ARG, re.I),
    # "Can a bad person become good?": the adjective and the complement exchanged
    re.compile(r"\b(an?|the|some|many|most) (\w+) (\w+) (" + _BECOME + r") (\w+)\b", re.I),
    re.compile(r"\b(\w+) (" + "|".join(GROUP_NOUNS) + r") (" + _BECOME + r") (\w+)\b", re.I),
)
_STOP = {
    "i",
    "a",
    "an",
    "the",
    "it",
    "is",
    "are",
    "be",
    "to",
    "of",
    "in",
    "on",
    "do",
    "does",
    "how",
    "what",
    "why",
    "can",
    "you",
    "we",
    "they",
    "he",
    "she",
    "my",
    "me",
}


@dataclass(frozen=True)
class Augmented:
    """The pairs `augment_pairs` added, with the kind of each (and, for "wordorder", the rule
    that made it), and counts by kind."""

    pairs: PairDataset
    kinds: np.ndarray
    requested: dict[str, int]
    rules: tuple[str, ...] = ()
    """The word-order rule of each added pair ("" for the other kinds)."""

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(str(k) for k in self.kinds)
        return {k: c.get(k, 0) for k in self.requested}

    @property
    def rule_counts(self) -> dict[str, int]:
        """Pairs per word-order rule, as "wordorder.<rule>" (empty without "wordorder")."""
        if "wordorder" not in self.requested:
            return {}
        from pairlm.data.wordorder import RULE_NAMES

        c = Counter(r for r in self.rules if r)
        return {f"wordorder.{r}": c.get(r, 0) for r in RULE_NAMES}

    @property
    def details(self) -> dict[str, int]:
        """`counts` and `rule_counts` together (what a fitted model reports)."""
        return self.counts | self.rule_counts

    def summary(self) -> str:
        parts = [f"{k} {n}/{self.requested[k]}" for k, n in self.counts.items()]
        rules = [f"{k.split('.', 1)[1]} {n}" for k, n in self.rule_counts.items() if n]
        by_rule = f"; word order by rule: {', '.join(rules)}" if rules else ""
        return f"{len(self.pairs)} augmented pairs ({', '.join(parts)}{by_rule})"


def _split_ratio(entry: str, where: str) -> tuple[str, float | None]:
    """ "wordorder:0.1" -> ("wordorder", 0.1); "typo" -> ("typo", None)."""
    if ":" not in entry:
        return entry, None
    name, _, value = entry.partition(":")
    try:
        ratio = float(value)
    except ValueError:
        raise ValueError(
            f"{where}: {entry!r}: the ratio after ':' must be a number, got {value!r}"
        ) from None
    if not 0.0 <= ratio <= 10.0:
        raise ValueError(f"{where}: {entry!r}: the ratio must be in [0, 10], got {ratio}")
    if name in ALIASES:
        raise ValueError(f"{where}: {entry!r}: a ratio applies to one kind, not to a group")
    return name, ratio


def kind_ratios(kinds: Sequence[str], where: str = "augment") -> dict[str, float | None]:
    """Each kind `kinds` names (aliases expanded), with its own ratio where it has one
    ("wordorder:0.1"), else None (it shares the common ratio): ValueError naming an unknown
    kind or a bad ratio."""
    out: dict[str, float | None] = {}
    for k in kinds:
        name, ratio = _split_ratio(str(k), where)
        for n in ALIASES.get(name, (name,)):
            if n not in KINDS:
                raise ValueError(
                    f"{where}: unknown augmentation {name!r}; known: "
                    f"{', '.join((*KINDS, *ALIASES))}"
                )
            if n not in out or ratio is not None:
                out[n] = ratio
    return out


def resolve_kinds(kinds: Sequence[str], where: str = "augment") -> tuple[str, ...]:
    """Expand aliases ("all", "negatives", "invariance"), drop per-kind ratios, and check
    every name: ValueError naming the unknown one."""
    return tuple(kind_ratios(kinds, where))


# ---------------------------------------------------------------------- edits of one text
def _keep_case(src: str, word: str) -> str:
    return word[:1].upper() + word[1:] if src[:1].isupper() else word


def swap_arguments(text: str, rng: np.random.Generator | None = None) -> str | None:
    """Swap the arguments of the first asymmetric relation found, or None."""
    for k, rx in enumerate(_SWAP_RES):
        m = rx.search(text)
        if m is None:
            continue
        g = m.groups()
        if k == 0:
            cop, a, comp, b = g
            new = f"{cop} {b} {comp} than {a}"
        elif k == 1:
            a, b = g
            new = f"{m.group(0)[:4]} {b} to {a}"
        elif k == 2:
            det, a, noun, verb, b = g
            new = f"{det} {b} {noun} {verb} {a}"
        else:
            a, noun, verb, b = g
            new = f"{b} {noun} {verb} {a}"
        if a.lower() == b.lower() or a.lower() in _STOP or b.lower() in _STOP:
            continue
        return text[: m.start()] + new + text[m.end() :]
    return None


def negate(text: str, rng: np.random.Generator | None = None) -> str | None:
    """Remove the first negation, else negate the first auxiliary verb; None if neither."""
    m = _NEG_RE.search(text)
    if m is not None:
        word = m.group(1)
        return text[: m.start()] + _keep_case(word, _AFFIRM[word.lower()]) + text[m.end() :]
    m = _NOT_RE.search(text)
    if m is not None:
        return text[: m.start()] + text[m.end() :]
    m = _AUX_RE.search(text)
    if m is not None:
        word = m.group(1)
        return text[: m.start()] + _keep_case(word, _NEGATE[word.lower()]) + text[m.end() :]
    return None


def change_number(text: str, rng: np.random.Generator) -> str | None:
    """Change one number (a year to another year, else another small number)."""
    found = list(_NUM_RE.finditer(text))
    if not found:
        return None
    m = found[int(rng.integers(len(found)))]
    n = int(m.group(1))
    if 1900 <= n <= 2099:
        new = n + int(rng.choice([-10, -5, -3, -2, -1, 1, 2, 3, 5, 10]))
    else:
        new = n
        while new == n:
            new = max(0, n + int(rng.integers(-max(3, n // 2), max(3, n // 2) + 1)))
    return text[: m.start()] + str(new) + text[m.end() :]


def change_name(text: str, rng: np.random.Generator, names: Sequence[str]) -> str | None:
    """Replace one capitalised word inside the sentence with another from `names`."""
    found = list(_CAP_RE.finditer(text))
    if not found or len(names) < 2:
        return None
    m = found[int(rng.integers(len(found)))]
    old = m.group(1)
    new = old
    for _ in range(10):
        new = str(names[int(rng.integers(len(names)))])
        if new != old:
            break
    if new == old:
        return None
    return text[: m.start()] + new + text[m.end() :]


def substitute_antonym(text: str, rng: np.random.Generator) -> str | None:
    """Replace one word that has an entry in `ANTONYMS` with its opposite."""
    found = [m for m in _WORD_RE.finditer(text) if m.group(0).lower() in _OPPOSITE]
    if not found:
        return None
    m = found[int(rng.integers(len(found)))]
    word = m.group(0)
    return text[: m.start()] + _keep_case(word, _OPPOSITE[word.lower()]) + text[m.end() :]


def typo(text: str, rng: np.random.Generator) -> str | None:
    """Swap two adjacent letters of one word (4+ letters), or drop one of its letters."""
    words = [m for m in _WORD_RE.finditer(text) if len(m.group(0)) >= 4]
    if not words:
        return None
    m = words[int(rng.integers(len(words)))]
    w = m.group(0)
    i = int(rng.integers(1, len(w) - 1))
    if rng.random() < 0.5 and w[i] != w[i + 1]:
        new = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    else:
        new = w[:i] + w[i + 1 :]
    return text[: m.start()] + new + text[m.end() :]


def change_case(text: str, rng: np.random.Generator) -> str | None:
    """Lower-case the text, or capitalise the first letter of every word."""
    new = text.lower() if rng.random() < 0.5 else re.sub(r"\b[a-z]", lambda m: m[0].upper(), text)
    return new if new != text else None


# ---------------------------------------------------------------------- pairs
def _names_of(pairs: PairDataset) -> list[str]:
    c: Counter[str] = Counter()
    for t in (*pairs.text_a, *pairs.text_b):
        c.update(m.group(1) for m in _CAP_RE.finditer(str(t)))
    return sorted(w for w, n in c.items() if n >= 2 and w.lower() not in _OPPOSITE)


def _editor(kind: str, names: Sequence[str]) -> Callable[[str, np.random.Generator], str | None]:
    if kind == "swap":
        return swap_arguments
    if kind == "negation":
        return negate
    if kind == "number":
        return change_number
    if kind == "name":
        return lambda t, rng: change_name(t, rng, names)
    if kind == "antonym":
        return substitute_antonym
    if kind == "typo":
        return typo
    if kind == "casing":
        return change_case
    raise ValueError(f"unknown augmentation {kind!r}")


def augment_pairs(
    pairs: PairDataset, kinds: Sequence[str], ratio: float = 0.2, seed: int = 0
) -> Augmented:
    """New labelled pairs made from `pairs` (labelled training pairs): about
    ``ratio * len(pairs)`` in all, shared equally by `kinds` (a kind that applies to fewer
    pairs adds fewer; `Augmented.counts` says how many). The input is never modified.
    Pairs with a soft `target` (silver pairs) pass it on where the label is kept (``order``,
    an edited second text); a made label (a hard negative, a text against its edited copy)
    is its own target."""
    own = kind_ratios(kinds)
    kinds = tuple(own)
    if ratio < 0:
        raise ValueError(f"augment_ratio must be >= 0, got {ratio}")
    rng = np.random.default_rng(seed)
    n = len(pairs)
    sharing = [k for k in kinds if own[k] is None]
    shared = round(ratio * n / len(sharing)) if sharing else 0
    wanted = {k: shared if own[k] is None else round(float(own[k] or 0.0) * n) for k in kinds}
    names = _names_of(pairs) if "name" in kinds else []
    text_a: list[str] = []
    text_b: list[str] = []
    labels: list[int] = []
    targets: list[float] = []
    kind_of: list[str] = []
    rule_of: list[str] = []
    soft = pairs.soft_labels if pairs.target is not None else None
    for kind in kinds:
        per_kind = wanted[kind]
        if per_kind == 0:
            continue
        if kind == "wordorder":
            from pairlm.data.wordorder import make_pairs

            made = make_pairs(pairs, per_kind, rng)
            text_a += made.text_a
            text_b += made.text_b
            labels += made.labels
            targets += [float(y) for y in made.labels]
            kind_of += [kind] * len(made.labels)
            rule_of += made.rules
            continue
        order = rng.permutation(n)
        added = 0
        if kind == "order":
            for i in order[:per_kind]:
                text_a.append(str(pairs.text_b[i]))
                text_b.append(str(pairs.text_a[i]))
                labels.append(int(pairs.label[i]))
                targets.append(float(soft[i]) if soft is not None else float(pairs.label[i]))
                kind_of.append(kind)
                rule_of.append("")
            continue
        edit = _editor(kind, names)
        negative = kind in NEGATIVE_KINDS
        for i in order:
            if added >= per_kind:
                break
            a, b, y = str(pairs.text_a[i]), str(pairs.text_b[i]), int(pairs.label[i])
            if rng.random() < 0.5:
                a, b = b, a
            if negative:
                # the question against an edited copy of itself, or of its duplicate
                src = b if (y == 1 and rng.random() < 0.5) else a
                new = edit(src, rng)
                if new is None or new.strip() == a.strip():
                    continue
                text_a.append(a)
                text_b.append(new)
                labels.append(0)
                targets.append(0.0)
            else:
                # an edited copy: of the pair's second text (label kept) or of the first
                # text against itself (a duplicate)
                if rng.random() < 0.5:
                    new = edit(b, rng)
                    label = y
                    target = float(soft[i]) if soft is not None else float(y)
                else:
                    new, label, target = edit(a, rng), 1, 1.0
                if new is None:
                    continue
                text_a.append(a)
                text_b.append(new)
                labels.append(label)
                targets.append(target)
            kind_of.append(kind)
            rule_of.append("")
            added += 1
    ids = [f"aug-{k}-{i}" for i, k in enumerate(kind_of)]
    out = PairDataset.from_pairs(
        text_a,
        text_b,
        np.asarray(labels, dtype=np.int8),
        pair_ids=ids,
        name=pairs.name,
        target=np.asarray(targets, dtype=np.float64) if soft is not None else None,
    )
    return Augmented(out, np.asarray(kind_of, dtype=object), wanted, tuple(rule_of))


def with_augmentation(
    pairs: PairDataset, kinds: Sequence[str], ratio: float = 0.2, seed: int = 0
) -> tuple[PairDataset, Augmented]:
    """`pairs` followed by the pairs `augment_pairs` makes from them."""
    aug = augment_pairs(pairs, kinds, ratio, seed)
    if len(aug.pairs) == 0:
        return pairs, aug
    return concat([pairs, aug.pairs], name=pairs.name), aug
