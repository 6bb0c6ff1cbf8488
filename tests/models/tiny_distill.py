"""Contract-suite factory: a tiny lexical student distilled from a tiny lexical teacher (BM25
and random silver pairs: no sentence encoder needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pairlm.distill.family import DistillClassifier

TINY_LEXICAL: dict[str, Any] = {
    "family": "lexical",
    "config": {"max_word_features": 500, "max_char_features": 500, "n_bins": 4},
}


def make_tiny(tmp_path: Path, **overrides: Any) -> DistillClassifier:
    cfg: dict[str, Any] = {
        "teacher": TINY_LEXICAL,
        "student": TINY_LEXICAL,
        "samplers": {"bm25": 1.0, "random": 0.5},
        "progress": False,
    }
    return DistillClassifier(DistillClassifier.config_cls.from_dict({**cfg, **overrides}))
