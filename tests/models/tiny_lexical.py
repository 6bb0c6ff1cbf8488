"""Tiny lexical model for the contract suite."""

from pathlib import Path

from pairlm.models.lexical import LexicalClassifier


def make_tiny(tmp_path: Path) -> LexicalClassifier:
    return LexicalClassifier(max_word_features=500, max_char_features=500, n_bins=4)
