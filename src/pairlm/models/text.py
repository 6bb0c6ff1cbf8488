"""Word tokenisation suited to QQP questions, and a vocabulary built from a training fold only.

Tokenisation follows GloVe's (Stanford tokenizer) conventions closely enough that most
tokens find a vector: lower-case, NFKC, punctuation split off as its own token, English
clitics split (``what's`` → ``what 's``, ``don't`` → ``do n't``), numbers kept whole
(``2016``, ``3.5``) with digit groups such as ``1,000`` joined. Numbers absent from the
vocabulary map to a shared ``<num>`` token rather than to ``<unk>``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
NUM = "<num>"
SPECIALS = (PAD, UNK, NUM)
PAD_ID, UNK_ID, NUM_ID = 0, 1, 2

_TOKEN = re.compile(
    r"""
    \d+(?:[.,]\d+)*            # numbers: 42, 3.5, 1,000
  | [^\W\d_]+n't\b              # words with a negation clitic, split below
  | [^\W\d_]+                 # words (any script)
  | n't | '[a-z]{1,2}\b        # clitics: n't 's 're 've 'll 'd 'm
  | [^\w\s]                    # any other single symbol
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")
_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of `text` (see the module docstring for the rules)."""
    t = unicodedata.normalize("NFKC", text).translate(_APOS).lower()
    out: list[str] = []
    for tok in _TOKEN.findall(t):
        if tok.endswith("n't") and len(tok) > 3:
            out.extend((tok[:-3], "n't"))  # can't → ca n't, as GloVe has it
        else:
            out.append(tok.replace(",", "") if _NUMBER.match(tok) and "," in tok else tok)
    return out


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token))


@dataclass
class Vocabulary:
    """Token ↔ id map: ids 0, 1, 2 are ``<pad>``, ``<unk>``, ``<num>``; then tokens."""

    tokens: list[str]

    def __post_init__(self) -> None:
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {self.tokens[:3]}")
        self._index = {t: i for i, t in enumerate(self.tokens)}
        if len(self._index) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        min_count: int = 1,
        keep: set[str] | frozenset[str] | None = None,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Vocabulary of the tokens of `texts` (a training fold: never the data scored later).

        A token enters if it occurs at least `min_count` times, or at least once and is in
        `keep` (e.g. the words that have a pretrained vector). Most frequent first; ties
        alphabetical, so the result does not depend on the order of `texts`.
        """
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(tokenize(t))
        for s in SPECIALS:
            counts.pop(s, None)
        chosen = [
            (tok, c)
            for tok, c in counts.items()
            if c >= min_count or (keep is not None and tok in keep)
        ]
        chosen.sort(key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            chosen = chosen[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *(t for t, _ in chosen)])

    def id(self, token: str) -> int:
        j = self._index.get(token)
        if j is not None:
            return j
        return NUM_ID if is_number(token) else UNK_ID

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of `text`'s tokens, truncated to `max_len`."""
        toks = tokenize(text)
        if max_len is not None:
            toks = toks[:max_len]
        return [self.id(t) for t in toks]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tokens": self.tokens}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read vocabulary {p}: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError(f"{p}: expected a JSON object with a 'tokens' list")
        return cls([str(t) for t in data["tokens"]])


def length_cap(
    texts: Iterable[str], *, percentile: float = 99.0, minimum: int = 4, maximum: int = 64
) -> int:
    """A sequence length cap from the data: the `percentile` of token counts, clipped."""
    lens = np.fromiter((len(tokenize(t)) for t in texts), dtype=np.int64)
    if len(lens) == 0:
        return minimum
    cap = int(np.ceil(np.percentile(lens, percentile)))
    return int(min(maximum, max(minimum, cap)))
