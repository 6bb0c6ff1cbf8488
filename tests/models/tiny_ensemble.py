"""Tiny ensemble for the contract suite: a tiny lexical model and a tiny S-CNN, stacked."""

from pathlib import Path

from pairlm.models.ensemble import EnsembleClassifier
from tests.models import tiny_siamese_cnn


def make_tiny(tmp_path: Path) -> EnsembleClassifier:
    return EnsembleClassifier(
        members=[
            {
                "family": "lexical",
                "config": {"max_word_features": 500, "max_char_features": 500, "n_bins": 4},
            },
            {"family": "siamese-cnn", "config": dict(tiny_siamese_cnn.TINY)},
        ],
        stack_folds=3,
    )
