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
    """Save a tiny sentence-transformers encoder under `path` and return it."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path = Path(path)
    raw = path / "raw"
    tokens = list(dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(raw)
    fast.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=64)
    pool = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    out = path / "encoder"
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(out))
    return out


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
