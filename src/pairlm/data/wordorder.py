"""Word-order pairs made from real training questions (the "wordorder" augmentation).

A bag-of-words model cannot tell "Is Python better than Java?" from "Is Java better than
Python?"; a model that reads word order can, if its training pairs show it the difference.
QQP holds few such pairs, so this module makes them from the training questions themselves:
each rule below finds a pattern in one question and rewrites it, and the question paired with
its rewrite is labelled by what the rewrite does to the meaning.

Hard negatives (label 0: the rewrite asks something else):

- ``comparison_swap``: the two sides of a comparison exchanged, "is X better than Y" ->
  "is Y better than X": the comparison now claims the opposite order;
- ``comparison_antonym``: the comparative replaced by its converse, sides kept, "is X better
  than Y" -> "is X worse than Y": the opposite claim about the same two things;
- ``role_swap``: subject and object of an asymmetric verb (`ASYMMETRIC_VERBS`) exchanged,
  "Why did Japan attack China?" -> "Why did China attack Japan?": who does what to whom changes;
- ``event_swap``: two events around "before"/"after" exchanged, "learn Python before Java" ->
  "learn Java before Python", "eating before sleeping" -> "sleeping before eating": the order
  of events is reversed;
- ``direction_swap``: the ends of a path exchanged, "from X to Y" -> "from Y to X", "convert X
  to Y" -> "convert Y to X": the direction is reversed.

Hard positives (label 1: the rewrite asks the same thing in another order):

- ``comparison_converse``: sides exchanged *and* the comparative replaced by its converse,
  "is X better than Y" -> "is Y worse than X": the same claim, stated from the other side;
- ``event_converse``: events exchanged *and* the connective replaced by its converse, "learn
  Python before Java" -> "learn Java after Python": the same order, told from the other end;
- ``symmetric_swap``: the arguments of a symmetric relation (`SYMMETRIC_MARKERS`) exchanged,
  "the difference between X and Y" -> "... between Y and X", "X vs Y" -> "Y vs X", "compare
  X and Y" -> "compare Y and X": the relation does not depend on their order.

The rules are regular expressions over the text (no parser, no model): each applies only
where its pattern is unambiguous enough to keep the label right (arguments of one to four
plain tokens that end the clause, no question word or pronoun as an argument). The word
lists live in `pairlm.data.augment_lexicon`, apart from the behavioural suite's.

`make_pairs` is a pure function of (pairs, n, seed).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pairlm.data.augment_lexicon import (
    ASYMMETRIC_VERBS,
    COMPARATIVES,
    EVENT_CONNECTIVES,
    SEQUENCE_VERBS,
)
from pairlm.data.pairs import PairDataset

# ---------------------------------------------------------------------- patterns
_TOK = r"[A-Za-z0-9][\w+#.'-]*"
_ARGS = rf"({_TOK}(?: {_TOK}){{0,3}}?)"
_END = r"(?=[?.,!;]|$)"
_CAP = r"[A-Z][\w+#.'-]*"
_CAPNP = rf"((?:the )?{_CAP}(?: {_CAP}){{0,2}})"
_DETNP = r"((?:a|an|the) [a-z]+)"
_THING = rf"({_CAP}(?: {_CAP}){{0,2}}|[a-z]+[+#]+|[a-z]*\d\w*)"

_CONVERSE: dict[str, str] = {}
for _a, _b in COMPARATIVES:
    _CONVERSE.setdefault(_a, _b)
    _CONVERSE.setdefault(_b, _a)
_CONNECTIVE: dict[str, str] = {}
for _a, _b in EVENT_CONNECTIVES:
    _CONNECTIVE[_a], _CONNECTIVE[_b] = _b, _a

_COMP = "(" + "|".join(sorted(_CONVERSE, key=len, reverse=True)) + r"|more \w+|less \w+)"
_CONN = "(" + "|".join(_CONNECTIVE) + ")"
_COMPARISON_RE = re.compile(rf"\b(is|are|was|were|am) {_ARGS} {_COMP} than {_ARGS}{_END}", re.I)
_VERB = "(" + "|".join(sorted(ASYMMETRIC_VERBS, key=len, reverse=True)) + ")"
_ROLE_NP = f"({_CAPNP[1:-1]}|{_DETNP[1:-1]})"
_ROLE_AFTER = (
    "in", "at", "on", "for", "if", "when", "during", "with", "by", "and", "or", "so", "because",
    "after", "before", "again", "ever", "anymore", "now", "much", "more", "than", "to", "from",
    "so", "this", "that", "every", "the", "a", "an",
)  # fmt: skip
_ROLE_RE = re.compile(
    rf"(?<![\w']){_ROLE_NP} {_VERB} {_ROLE_NP}(?=[?.,!;:]|$| (?:{'|'.join(_ROLE_AFTER)})\b)"
)
_OBJECT_STARTS = {"my", "the", "a", "an", "your", "his", "her", "our", "their", "it", "them", "me"}
_PREPOSITIONS = {"in", "at", "on", "from", "of", "to", "for", "with", "by", "like", "about"}
_SEQ = "(" + "|".join(SEQUENCE_VERBS) + ")"
_EVENT_NP_RE = re.compile(rf"\b{_SEQ} {_THING} {_CONN} {_THING}(?=[?.,!;]| first\b| or\b|$)")
_GERUND = r"[a-z]{2,}ing"
_WORD = r"[a-z]+"
_DIRECTION_RES = (
    re.compile(r"\b(from) ([A-Za-z][\w+#.-]*) (to) ([A-Za-z][\w+#.-]*)\b"),
    re.compile(rf"\b(convert) ({_TOK}) ((?:files? )?(?:to|into)) ({_TOK}){_END}", re.I),
)
_SYMMETRIC_RES = (
    re.compile(rf"\b(between) {_ARGS} (and) {_ARGS}{_END}", re.I),
    re.compile(rf"\b(compare) {_ARGS} (and|with|to) {_ARGS}{_END}", re.I),
    re.compile(
        rf"(?<![\w'])({_CAP}(?: {_CAP})?|{_TOK}) (vs\.?|versus) ({_CAP}(?: {_CAP})?|{_TOK})\b"
    ),
)

_STOP = {
    "i", "a", "an", "the", "it", "is", "are", "be", "to", "of", "in", "on", "do", "does",
    "how", "what", "why", "when", "where", "who", "which", "can", "could", "should", "would",
    "will", "did", "you", "we", "they", "he", "she", "my", "me", "him", "her", "them", "us",
    "your", "this", "that", "these", "those", "there", "if", "so", "and", "or", "not",
}  # fmt: skip
_INNER_STOP = {"in", "on", "at", "for", "to", "from", "when", "if", "with", "by", "during"}
"""Words that end an argument: "between X and Y in India" is not two arguments."""
_NOT_GERUNDS = {
    "thing", "something", "anything", "nothing", "everything", "morning", "evening", "during",
    "king", "ring", "spring", "bring", "string", "sing", "wing", "ceiling", "sibling",
}  # fmt: skip
_PREDICATES = {
    "bad", "good", "healthy", "harmful", "ok", "okay", "safe", "better", "worse", "wrong",
    "right", "necessary", "important", "dangerous", "useful", "normal", "possible", "fine",
    "advisable", "recommended", "beneficial", "helpful", "effective",
}  # fmt: skip

_PRED = "(?:" + "|".join(sorted(_PREDICATES)) + ")"
_EVENT_GERUND_RE = re.compile(
    rf"\b({_GERUND}(?: (?!before\b|after\b){_WORD}){{0,2}}?) {_CONN} "
    rf"({_GERUND}(?: (?!{_PRED}\b){_WORD})?)(?=[?.,!;]|$| {_PRED}\b| for\b)"
)


def _arg_ok(*args: str) -> bool:
    """Every argument is real text: not a stop word, no clause-ending word inside it, and
    the arguments differ."""
    low = [a.lower() for a in args]
    if len(set(low)) < len(low):
        return False
    for a in low:
        words = a.split()
        if not words or a in _STOP or words[0] in _STOP - {"a", "an", "the"}:
            return False
        if any(w in _INNER_STOP for w in words) or words[-1] in _STOP:
            return False
    return True


def _sub(text: str, m: re.Match[str], new: str) -> str:
    return text[: m.start()] + new + text[m.end() :]


# ---------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One rewrite: `label` is what the question and its rewrite are (0 not duplicates, 1
    duplicates), `template` the pattern in words (for the docs and the disjointness test)."""

    name: str
    label: int
    template: str
    rewrite: Callable[[str], str | None]


def _comparison(mode: str) -> Callable[[str], str | None]:
    def rewrite(text: str) -> str | None:
        m = _COMPARISON_RE.search(text)
        if m is None:
            return None
        cop, a, comp, b = m.groups()
        if not _arg_ok(a, b):
            return None
        low = comp.lower()
        if low.startswith(("more ", "less ")):
            other = ("less " if low.startswith("more ") else "more ") + comp.split(" ", 1)[1]
        else:
            other = _CONVERSE[low]
        if mode == "swap":
            return _sub(text, m, f"{cop} {b} {comp} than {a}")
        if mode == "antonym":
            return _sub(text, m, f"{cop} {a} {other} than {b}")
        return _sub(text, m, f"{cop} {b} {other} than {a}")

    return rewrite


def _role_swap(text: str) -> str | None:
    for m in _ROLE_RE.finditer(text):
        before = text[: m.start()].split()
        if before and before[-1].lower() in _PREPOSITIONS:
            continue  # "firms in India hire PhDs": India is not the subject
        a, verb, b = m.group(1), m.group(2), m.group(3)
        # "Did Japan attack China": the capitalised question word is not the subject
        words = a.split()
        lead = ""
        while len(words) > 1 and words[0].lower() in _STOP - {"a", "an", "the"}:
            lead += words.pop(0) + " "
        a = " ".join(words)
        if _arg_ok(a, b):
            return _sub(text, m, f"{lead}{b} {verb} {a}")
    return None


def _event(converse: bool) -> Callable[[str], str | None]:
    def rewrite(text: str) -> str | None:
        m = _EVENT_NP_RE.search(text)
        if m is not None:
            verb, a, conn, b = m.groups()
            if _arg_ok(a, b):
                new_conn = _CONNECTIVE[conn] if converse else conn
                return _sub(text, m, f"{verb} {b} {new_conn} {a}")
        m = _EVENT_GERUND_RE.search(text)
        if m is not None:
            a, conn, b = m.groups()
            heads = (a.split()[0], b.split()[0])
            if any(h in _NOT_GERUNDS for h in heads) or b.split()[-1] in _PREDICATES:
                return None
            if _arg_ok(a, b):
                new_conn = _CONNECTIVE[conn] if converse else conn
                return _sub(text, m, f"{b} {new_conn} {a}")
        return None

    return rewrite


def _direction_swap(text: str) -> str | None:
    for rx in _DIRECTION_RES:
        m = rx.search(text)
        if m is not None:
            head, a, mid, b = m.groups()
            after = text[m.end() :].split()[:1]
            if after and after[0].lower() in _OBJECT_STARTS:
                continue  # "people from school to follow my page": "to follow" is a verb
            if _arg_ok(a, b) and not a.lower().endswith("ing"):  # "from trying to prove"
                return _sub(text, m, f"{head} {b} {mid} {a}")
    return None


def _symmetric_swap(text: str) -> str | None:
    for k, rx in enumerate(_SYMMETRIC_RES):
        m = rx.search(text)
        if m is None:
            continue
        if k < 2:
            head, a, mid, b = m.groups()
            new = f"{head} {b} {mid} {a}"
        else:
            a, mid, b = m.groups()
            new = f"{b} {mid} {a}"
        if _arg_ok(a, b) and not a[:1].isdigit() and not b[:1].isdigit():
            return _sub(text, m, new)
    return None


RULES: tuple[Rule, ...] = (
    Rule("comparison_swap", 0, "{copula} {x} {comparative} than {y}", _comparison("swap")),
    Rule("comparison_antonym", 0, "{copula} {x} {comparative} than {y}", _comparison("antonym")),
    Rule("role_swap", 0, "{x} {asymmetric verb} {y}", _role_swap),
    Rule("event_swap", 0, "{verb} {x} before|after {y}; {x}ing before|after {y}ing", _event(False)),
    Rule("direction_swap", 0, "from {x} to {y}; convert {x} to {y}", _direction_swap),
    Rule("comparison_converse", 1, "{copula} {x} {comparative} than {y}", _comparison("converse")),
    Rule("event_converse", 1, "{verb} {x} before|after {y}; {x}ing before|after {y}ing", _event(True)),
    Rule("symmetric_swap", 1, "between {x} and {y}; compare {x} and {y}; {x} vs {y}", _symmetric_swap),
)  # fmt: skip
RULE_NAMES = tuple(r.name for r in RULES)


def rewrites(text: str) -> list[tuple[Rule, str]]:
    """Every rule that applies to `text`, with its rewrite (at most one per rule)."""
    out = []
    for rule in RULES:
        new = rule.rewrite(text)
        if new is not None and new != text:
            out.append((rule, new))
    return out


@dataclass(frozen=True)
class WordOrderPairs:
    text_a: list[str]
    text_b: list[str]
    labels: list[int]
    rules: list[str]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(self.rules)
        return {r: c.get(r, 0) for r in RULE_NAMES}


def make_pairs(pairs: PairDataset, n: int, rng: np.random.Generator) -> WordOrderPairs:
    """Up to `n` pairs (question, its rewrite), labelled by the rule (0 or 1), from the texts
    of `pairs` (each distinct text once). The rules share `n` in turn, so a rule that applies
    often does not crowd out a rare one; the two texts are in random order."""
    seen: set[str] = set()
    by_rule: dict[str, list[tuple[str, str, int]]] = {r: [] for r in RULE_NAMES}
    order = rng.permutation(len(pairs))
    for i in order:
        for text in (str(pairs.text_a[i]), str(pairs.text_b[i])):
            if text in seen:
                continue
            seen.add(text)
            for rule, new in rewrites(text):
                by_rule[rule.name].append((text, new, rule.label))
    a: list[str] = []
    b: list[str] = []
    labels: list[int] = []
    rules: list[str] = []
    pos = dict.fromkeys(RULE_NAMES, 0)
    while len(a) < n and any(pos[r] < len(by_rule[r]) for r in RULE_NAMES):
        for r in RULE_NAMES:
            if len(a) >= n or pos[r] >= len(by_rule[r]):
                continue
            text, new, label = by_rule[r][pos[r]]
            pos[r] += 1
            if rng.random() < 0.5:
                text, new = new, text
            a.append(text)
            b.append(new)
            labels.append(label)
            rules.append(r)
    return WordOrderPairs(a, b, labels, rules)
