"""The classic QQP baseline: TF-IDF similarities and overlap features into logistic regression.

Features per pair:
- dense: word and character TF-IDF cosines, shared-word counts and ratios (all words and
  content words), Jaccard of word and character-3-gram sets, length differences, first-word
  and question-word agreement, number agreement, rapidfuzz ratios; each dense feature is
  also cut into quantile bins (one-hot), which gives the linear model the non-linearity a
  tree model would find;
- sparse: |a−b| and a⊙b of the word and character TF-IDF vectors (what differs and what
  is shared, term by term).

Everything learned is an array (vocabularies, idf, bin edges, coefficients), saved as
safetensors + JSON: no pickles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from pairlm.data.pairs import PairDataset
from pairlm.models.base import (
    ConfigError,
    ModelConfig,
    PairClassifier,
    TrainableConfig,
    check_pairs,
    soft_target_rows,
)

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
QUESTION_WORDS = (
    "what",
    "how",
    "why",
    "when",
    "where",
    "who",
    "which",
    "is",
    "can",
    "do",
    "does",
    "should",
    "are",
    "will",
)
STOPWORDS = frozenset(
    "a an the of to in on for and or is are was were be been am do does did i you he she it we they "
    "my your his her its our their me him us them this that these those what which who whom how why "
    "when where can could should would will shall may might must at by with from as into about "
    "there here than then so if not no yes".split()
)


@dataclass
class LexicalConfig(TrainableConfig):
    word_ngram_max: int = 2
    """Longest word n-gram of the word TF-IDF vectoriser (n-grams 1 to this)."""
    char_ngram_min: int = 2
    """Shortest character n-gram of the character TF-IDF vectoriser (within words)."""
    char_ngram_max: int = 5
    """Longest character n-gram of the character TF-IDF vectoriser."""
    max_word_features: int = 200_000
    """Vocabulary cap of the word TF-IDF (the most frequent n-grams seen in 2+ texts)."""
    max_char_features: int = 300_000
    """Vocabulary cap of the character TF-IDF."""
    sparse_features: bool = True
    """Add |a−b| and a⊙b of the TF-IDF vectors (stronger, slower)."""
    n_bins: int = 16
    """Quantile bins per dense feature, one-hot encoded beside the standardised value (0: off)."""
    C: float = 1.0
    """Inverse L2 strength of the logistic regression (liblinear)."""
    max_iter: int = 2000
    """Iteration cap of the logistic-regression solver."""

    def validate(self) -> None:
        super().validate()
        if self.word_ngram_max < 1:
            raise ConfigError(f"word_ngram_max must be >= 1, got {self.word_ngram_max}")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max:
            raise ConfigError(
                f"need 1 <= char_ngram_min <= char_ngram_max, got {self.char_ngram_min}, {self.char_ngram_max}"
            )
        if self.C <= 0:
            raise ConfigError(f"C must be > 0, got {self.C}")
        if self.n_bins < 0 or self.n_bins == 1:
            raise ConfigError(f"n_bins must be 0 (off) or >= 2, got {self.n_bins}")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _char_grams(text: str, n: int = 3) -> set[str]:
    t = " " + " ".join(tokenize(text)) + " "
    return {t[i : i + n] for i in range(max(0, len(t) - n + 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    u = len(a | b)
    return len(a & b) / u if u else 0.0


def pair_features(a: str, b: str) -> list[float]:
    """Hand-made overlap features of one pair (TF-IDF cosines are added separately)."""
    from rapidfuzz import fuzz

    ta, tb = tokenize(a), tokenize(b)
    sa, sb = set(ta), set(tb)
    ca, cb = sa - STOPWORDS, sb - STOPWORDS
    shared = len(sa & sb)
    cshared = len(ca & cb)
    na = set(_NUMBER.findall(a))
    nb = set(_NUMBER.findall(b))
    qa = {w for w in ta if w in QUESTION_WORDS}
    qb = {w for w in tb if w in QUESTION_WORDS}
    la, lb = len(ta), len(tb)
    al, bl = a.lower(), b.lower()
    return [
        shared,
        shared / max(1, min(len(sa), len(sb))),
        shared / max(1, len(sa | sb)),
        cshared,
        cshared / max(1, min(len(ca), len(cb))) if ca and cb else 0.0,
        cshared / max(1, len(ca | cb)),
        _jaccard(_char_grams(a), _char_grams(b)),
        abs(la - lb),
        abs(la - lb) / max(1, la + lb),
        abs(len(a) - len(b)),
        min(la, lb),
        max(la, lb),
        float(bool(ta) and bool(tb) and ta[0] == tb[0]),
        float(bool(ta) and bool(tb) and ta[-1] == tb[-1]),
        float(qa == qb),
        _jaccard(qa, qb) if qa or qb else 1.0,
        float(na == nb),
        float(bool(na) or bool(nb)),
        fuzz.ratio(al, bl) / 100.0,
        fuzz.partial_ratio(al, bl) / 100.0,
        fuzz.token_sort_ratio(al, bl) / 100.0,
        fuzz.token_set_ratio(al, bl) / 100.0,
        float(al.strip() == bl.strip()),
    ]


def _row_cosine(xa: sp.csr_matrix, xb: sp.csr_matrix) -> np.ndarray:
    """Cosine per row (TF-IDF rows are L2-normalised, so the dot product)."""
    return np.asarray(xa.multiply(xb).sum(axis=1)).ravel()


class LexicalClassifier(PairClassifier):
    """TF-IDF + overlap features → logistic regression (family `lexical`)."""

    family: ClassVar[str] = "lexical"
    config_cls: ClassVar[type[ModelConfig]] = LexicalConfig
    soft_targets: ClassVar[bool] = True
    """Soft targets: each pair as two weighted rows (`soft_target_rows`)."""
    config: LexicalConfig

    # ------------------------------------------------------------------ features
    def _vectorizers(self) -> tuple[Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        word = TfidfVectorizer(
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, c.word_ngram_max),
            sublinear_tf=True,
            min_df=2,
            max_features=c.max_word_features,
            dtype=np.float32,
        )
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(c.char_ngram_min, c.char_ngram_max),
            sublinear_tf=True,
            min_df=2,
            max_features=c.max_char_features,
            dtype=np.float32,
        )
        return word, char

    def _dense(self, pairs: PairDataset, wa, wb, ca, cb) -> np.ndarray:  # type: ignore[no-untyped-def]
        hand = np.array(
            [pair_features(a, b) for a, b in zip(pairs.text_a, pairs.text_b)], dtype=np.float64
        )
        cos = np.column_stack([_row_cosine(wa, wb), _row_cosine(ca, cb)])
        return np.hstack([cos, hand])

    def _features(self, pairs: PairDataset) -> sp.csr_matrix:
        texts, ia, ib = pairs.texts()
        w = self.word_.transform(texts)
        c = self.char_.transform(texts)
        wa, wb, ca, cb = w[ia], w[ib], c[ia], c[ib]
        dense = self._dense(pairs, wa, wb, ca, cb)
        return self._assemble(dense, wa, wb, ca, cb)

    def _assemble(self, dense: np.ndarray, wa, wb, ca, cb) -> sp.csr_matrix:  # type: ignore[no-untyped-def]
        z = (dense - self.mean_) / self.scale_
        blocks = [sp.csr_matrix(z)]
        if self.config.n_bins:
            blocks.append(self._bin_onehot(dense))
        if self.config.sparse_features:
            blocks += [abs(wa - wb), wa.multiply(wb), abs(ca - cb), ca.multiply(cb)]
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    def _bin_onehot(self, dense: np.ndarray) -> sp.csr_matrix:
        n, d = dense.shape
        nb = self.config.n_bins
        cols = np.empty((n, d), dtype=np.int64)
        for j in range(d):
            cols[:, j] = np.searchsorted(self.bin_edges_[j], dense[:, j], side="right") + j * nb
        rows = np.repeat(np.arange(n), d)
        return sp.csr_matrix((np.ones(n * d), (rows, cols.ravel())), shape=(n, d * nb))

    # ------------------------------------------------------------------ contract
    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        from sklearn.linear_model import LogisticRegression

        c = self.config
        self.word_, self.char_ = self._vectorizers()
        texts, ia, ib = train.texts()
        w = self.word_.fit_transform(texts)
        ch = self.char_.fit_transform(texts)
        wa, wb, ca, cb = w[ia], w[ib], ch[ia], ch[ib]
        dense = self._dense(train, wa, wb, ca, cb)
        self.mean_ = dense.mean(axis=0)
        self.scale_ = dense.std(axis=0) + 1e-9
        if c.n_bins:
            qs = np.linspace(0, 1, c.n_bins + 1)[1:-1]
            self.bin_edges_ = np.array(
                [np.quantile(dense[:, j], qs) for j in range(dense.shape[1])]
            )
        else:
            self.bin_edges_ = np.zeros((dense.shape[1], 0))
        x = self._assemble(dense, wa, wb, ca, cb)
        self.clf_ = LogisticRegression(C=c.C, max_iter=c.max_iter, solver="liblinear")
        if train.target is None:
            self.clf_.fit(x, train.y)
        else:  # soft labels: the weighted-rows form of the soft cross-entropy
            rows, y, w = soft_target_rows(train.target)
            self.clf_.fit(x[rows], y, sample_weight=w)

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        if not hasattr(self, "clf_"):
            raise RuntimeError("LexicalClassifier is not fitted; call fit() or load() first")
        return self.clf_.predict_proba(self._features(pairs))[:, 1]

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        from safetensors.numpy import save_file

        arrays = {
            "word_idf": self.word_.idf_.astype(np.float64),
            "char_idf": self.char_.idf_.astype(np.float64),
            "mean": self.mean_,
            "scale": self.scale_,
            "bin_edges": np.ascontiguousarray(self.bin_edges_, dtype=np.float64),
            "coef": self.clf_.coef_.astype(np.float64),
            "intercept": self.clf_.intercept_.astype(np.float64),
        }
        save_file(arrays, str(path / "lexical.safetensors"))
        vocab = {
            "word": {k: int(v) for k, v in self.word_.vocabulary_.items()},
            "char": {k: int(v) for k, v in self.char_.vocabulary_.items()},
        }
        (path / "lexical_vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))

    def _load_state(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from sklearn.linear_model import LogisticRegression

        arrays = load_file(str(path / "lexical.safetensors"))
        vocab = json.loads((path / "lexical_vocab.json").read_text(encoding="utf-8"))
        self.word_, self.char_ = self._vectorizers()
        for vec, key in ((self.word_, "word"), (self.char_, "char")):
            vec.vocabulary_ = vocab[key]
            vec.idf_ = arrays[f"{key}_idf"]
        self.mean_ = arrays["mean"]
        self.scale_ = arrays["scale"]
        self.bin_edges_ = arrays["bin_edges"]
        self.clf_ = LogisticRegression()
        self.clf_.coef_ = arrays["coef"]
        self.clf_.intercept_ = arrays["intercept"]
        self.clf_.classes_ = np.array([0, 1])
