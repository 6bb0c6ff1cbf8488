"""Tiny in-process parts for search/serve tests: a sentence encoder and a PairClassifier.

The encoder is a 1-layer BertModel (hidden 32) with a word-level tokenizer built by
`tokenizers`, wrapped as a sentence-transformers model with mean pooling and saved to a
directory. The classifier scores word overlap (Jaccard) and keeps the PairClassifier contract
(fit learns the threshold; save/load through pairlm_model.json + JSON state).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import PairClassifier
from pairlm.models.registry import register

WORDS = (
    "how do i learn python java code program what is the best way to cook rice pasta "
    "why sky blue ocean deep where can buy cheap car phone laptop good language money "
    "make fast lose weight sleep better become doctor travel paris japan cat dog is are a "
    "an of in on for with my your can should would which who when new old"
).split()

_TOKEN = re.compile(r"\w+")


def make_encoder(path: Path, hidden: int = 32, seed: int = 0) -> Path:
    """Save a tiny sentence-transformers encoder (1 layer, no [CLS]/[SEP]) under `path`."""
    from tests.models.tiny_biencoder import make_tiny_sentence_encoder

    return make_tiny_sentence_encoder(
        Path(path) / "encoder",
        seed=seed,
        words=WORDS,
        hidden=hidden,
        layers=1,
        add_special_tokens=False,
    )


def _words(t: str) -> set[str]:
    return set(_TOKEN.findall(t.lower()))


class OverlapClassifier(PairClassifier):
    """P(duplicate) = Jaccard overlap of the two texts' words, scaled by a learned factor."""

    family = "test-overlap"

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        self.scale_ = 1.0

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        out = np.empty(len(pairs), dtype=np.float64)
        for i, (a, b) in enumerate(zip(pairs.text_a, pairs.text_b)):
            wa, wb = _words(a), _words(b)
            out[i] = len(wa & wb) / max(1, len(wa | wb))
        return np.clip(out * getattr(self, "scale_", 1.0), 0.0, 1.0)

    def _save_state(self, path: Path) -> None:
        (path / "overlap.json").write_text(json.dumps({"scale": self.scale_}))

    def _load_state(self, path: Path) -> None:
        self.scale_ = float(json.loads((path / "overlap.json").read_text())["scale"])


register("test-overlap", "tinyparts:OverlapClassifier")


def make_reranker(path: Path) -> Path:
    """Fit an OverlapClassifier on a few labelled pairs and save it under `path`."""
    a = [
        "how do i learn python",
        "what is the best way to cook rice",
        "why is the sky blue",
        "where can i buy a cheap car",
        "how to lose weight fast",
        "how do i learn java",
    ] * 4
    b = [
        "how can i learn python",
        "best way to cook pasta",
        "why is the ocean deep",
        "where can i buy a cheap phone",
        "how to sleep better",
        "how do i learn java code",
    ] * 4
    y = [1, 0, 0, 0, 0, 1] * 4
    model = OverlapClassifier().fit(PairDataset.from_pairs(a, b, y))
    out = Path(path) / "reranker"
    model.save(out)
    return out


DOCS = {
    "d1": "how do i learn python",
    "d2": "what is the best way to learn python",
    "d3": "how can i cook rice",
    "d4": "why is the sky blue",
    "d5": "where can i buy a cheap laptop",
    "d6": "how do i lose weight fast",
    "d7": "how can i become a doctor",
    "d8": "what is the best way to travel to japan",
    "d9": "which language should i learn java or python",
    "d10": "how to make money fast",
}
