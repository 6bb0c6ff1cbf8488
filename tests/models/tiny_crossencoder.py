"""Contract-suite factory: a cross-encoder on a tiny in-process BERT (2 layers, hidden 32)."""

from __future__ import annotations

import pathlib

from pairlm.models.crossencoder import CrossEncoderClassifier
from tests.models.tiny_biencoder import make_tiny_bert


def make_tiny(tmp_path: pathlib.Path) -> CrossEncoderClassifier:
    """An unfitted, fully fine-tuned cross-encoder on a tiny BERT folder in `tmp_path`."""
    folder = pathlib.Path(tmp_path) / "tiny-bert"
    if not (folder / "config.json").is_file():
        make_tiny_bert(folder)
    return CrossEncoderClassifier(
        encoder=str(folder),
        epochs=2,
        batch_size=8,
        lr=1e-3,
        max_train_pairs=None,
        max_length=64,
        num_threads=1,
        progress=False,
    )
