"""`PairDataset`: the one in-memory form of pair data that every part of pairlm passes around."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from pairlm.data.validation import ValidationReport

MISSING_LABEL = -1
"""Label value for unlabelled pairs (e.g. the GLUE test split)."""

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The normal form used for text ids and duplicate checks: NFKC, case-folded, single spaces."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def normalize_text_fast(text: str) -> str:
    """`normalize_text`, with a fast path for ASCII text (where NFKC is the identity and case
    folding is lower-casing); the same result on every text (a test checks)."""
    if text.isascii():
        return " ".join(text.split()).lower()
    return normalize_text(text)


def text_id_from_normal_form(norm: str) -> str:
    """The `stable_text_id` of a text whose normal form (`normalize_text`) is `norm`."""
    return "h" + hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def stable_text_id(text: str) -> str:
    """A stable id for a text that has none in its source: a hash of its normal form."""
    return text_id_from_normal_form(normalize_text(text))


def _obj_array(values: Iterable[Any]) -> np.ndarray:
    seq = list(values)
    arr = np.empty(len(seq), dtype=object)
    arr[:] = seq
    return arr


@dataclass(frozen=True, eq=False)
class PairDataset:
    """Pairs of texts with an optional binary label (1 match, 0 not, -1 missing).

    Columns are parallel numpy arrays. `id_a`/`id_b` identify each text (question ids
    where the source has them, else `stable_text_id`), which grouped splits and
    encode-once caches rely on.

    `target` is an optional soft label per pair, P(match) in [0, 1] (float64), or None: the
    probability a teacher gave a silver pair (`pairlm.distill`). `label` stays the hard
    0/1 decision beside it; families that learn from probabilities read `target`
    (`PairClassifier.soft_targets`), the others read `label`.
    """

    pair_id: np.ndarray
    text_a: np.ndarray
    text_b: np.ndarray
    label: np.ndarray
    id_a: np.ndarray
    id_b: np.ndarray
    name: str = ""
    report: ValidationReport | None = field(default=None, repr=False)
    target: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.pair_id)
        for col in ("text_a", "text_b", "label", "id_a", "id_b"):
            if len(getattr(self, col)) != n:
                raise ValueError(
                    f"PairDataset column {col!r} has {len(getattr(self, col))} rows, "
                    f"pair_id has {n}"
                )
        bad = ~np.isin(self.label, (0, 1, MISSING_LABEL))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"PairDataset label must be 0, 1 or {MISSING_LABEL} (missing); "
                f"pair {self.pair_id[i]!r} has {self.label[i]!r}"
            )
        if self.target is not None:
            t = self.target
            if t.shape != (n,) or t.dtype.kind != "f":
                raise ValueError(f"PairDataset target must be {n} floats, got shape {t.shape}")
            if not (np.isfinite(t).all() and (t >= 0).all() and (t <= 1).all()):
                raise ValueError("PairDataset target must hold probabilities in [0, 1]")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_pairs(
        cls,
        text_a: Sequence[str],
        text_b: Sequence[str],
        labels: Sequence[int] | np.ndarray | None = None,
        *,
        pair_ids: Sequence[Any] | None = None,
        id_a: Sequence[Any] | None = None,
        id_b: Sequence[Any] | None = None,
        name: str = "",
        report: ValidationReport | None = None,
        target: Sequence[float] | np.ndarray | None = None,
    ) -> PairDataset:
        """Build a dataset from parallel sequences; ids are filled in where not given;
        `target`: optional soft labels (see the class docstring)."""
        if len(text_a) != len(text_b):
            raise ValueError(f"text_a has {len(text_a)} items but text_b has {len(text_b)}")
        n = len(text_a)
        for i, (a, b) in enumerate(zip(text_a, text_b)):
            if not isinstance(a, str) or not isinstance(b, str):
                raise TypeError(
                    f"pair {i}: texts must be str, got {type(a).__name__} and {type(b).__name__}"
                )
        if labels is None:
            lab = np.full(n, MISSING_LABEL, dtype=np.int8)
        else:
            lab = np.asarray(labels)
            if lab.shape != (n,):
                raise ValueError(f"labels has shape {lab.shape}, expected ({n},)")
            if lab.dtype.kind == "f" and np.isnan(lab).any():
                lab = np.where(np.isnan(lab), MISSING_LABEL, lab)
            lab = lab.astype(np.int8)
        pid = (
            _obj_array(str(p) for p in pair_ids)
            if pair_ids is not None
            else _obj_array(str(i) for i in range(n))
        )
        ia = (
            _obj_array(str(x) for x in id_a)
            if id_a is not None
            else _obj_array(stable_text_id(t) for t in text_a)
        )
        ib = (
            _obj_array(str(x) for x in id_b)
            if id_b is not None
            else _obj_array(stable_text_id(t) for t in text_b)
        )
        tgt = None if target is None else np.asarray(target, dtype=np.float64)
        return cls(pid, _obj_array(text_a), _obj_array(text_b), lab, ia, ib, name, report, tgt)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str = "") -> PairDataset:
        """Inverse of `to_frame`."""
        return cls.from_pairs(
            df["text_a"].tolist(),
            df["text_b"].tolist(),
            df["label"].to_numpy() if "label" in df else None,
            pair_ids=df["pair_id"].tolist() if "pair_id" in df else None,
            id_a=df["id_a"].tolist() if "id_a" in df else None,
            id_b=df["id_b"].tolist() if "id_b" in df else None,
            name=name,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.pair_id)

    def __repr__(self) -> str:
        pos = int((self.label == 1).sum())
        unl = int((self.label == MISSING_LABEL).sum())
        return f"PairDataset(name={self.name!r}, n={len(self)}, positives={pos}, unlabelled={unl})"

    @property
    def has_labels(self) -> bool:
        """True when every pair has a 0/1 label."""
        return bool(len(self)) and not bool((self.label == MISSING_LABEL).any())

    @property
    def y(self) -> np.ndarray:
        """Labels as an int array; raises if any pair is unlabelled."""
        if (self.label == MISSING_LABEL).any():
            n = int((self.label == MISSING_LABEL).sum())
            raise ValueError(
                f"dataset {self.name!r} has {n} unlabelled pairs; labels are required here"
            )
        return self.label.astype(np.int64)

    @property
    def positive_rate(self) -> float:
        lab = self.label[self.label != MISSING_LABEL]
        return float(lab.mean()) if len(lab) else float("nan")

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> PairDataset:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return PairDataset(
            self.pair_id[idx],
            self.text_a[idx],
            self.text_b[idx],
            self.label[idx],
            self.id_a[idx],
            self.id_b[idx],
            self.name if name is None else name,
            None,
            None if self.target is None else self.target[idx],
        )

    @property
    def soft_labels(self) -> np.ndarray:
        """`target` where the dataset has one, else the 0/1 labels as floats."""
        return self.target if self.target is not None else self.y.astype(np.float64)

    def texts(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Distinct texts and, for each pair, the index of its text_a and text_b among them.

        Methods that embed texts encode each distinct text once (QQP questions recur).
        Texts are keyed by their content, so two ids with the same text share one entry.
        """
        index: dict[str, int] = {}
        out: list[str] = []

        def key(t: str) -> int:
            j = index.get(t)
            if j is None:
                j = index[t] = len(out)
                out.append(t)
            return j

        ia = np.fromiter((key(t) for t in self.text_a), dtype=np.int64, count=len(self))
        ib = np.fromiter((key(t) for t in self.text_b), dtype=np.int64, count=len(self))
        return out, ia, ib

    def to_frame(self) -> pd.DataFrame:
        """The pairs as a pandas DataFrame (needs pandas, which pairlm itself does not)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame needs pandas: pip install pandas") from None

        return pd.DataFrame(
            {
                "pair_id": self.pair_id,
                "text_a": self.text_a,
                "text_b": self.text_b,
                "label": self.label,
                "id_a": self.id_a,
                "id_b": self.id_b,
            }
        )

    def head(self, n: int = 5) -> PairDataset:
        return self.subset(np.arange(min(n, len(self))))


def concat(datasets: Sequence[PairDataset], name: str = "") -> PairDataset:
    """Concatenate datasets (reports are not merged). When some have a `target`, the result
    has one, the 0/1 label standing in for it where a dataset has none."""
    if not datasets:
        raise ValueError("concat needs at least one dataset")

    def cat(col: str) -> np.ndarray:
        return np.concatenate([getattr(d, col) for d in datasets])

    target = None
    if any(d.target is not None for d in datasets):
        target = np.concatenate(
            [d.target if d.target is not None else d.label.astype(np.float64) for d in datasets]
        )

    return PairDataset(
        cat("pair_id"),
        cat("text_a"),
        cat("text_b"),
        cat("label"),
        cat("id_a"),
        cat("id_b"),
        name=name or datasets[0].name,
        target=target,
    )
