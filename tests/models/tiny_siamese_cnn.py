"""Contract-suite factory: a tiny S-CNN on random embeddings (fits in well under a second)."""

from __future__ import annotations

import pathlib

from pairlm.models.siamese_cnn import SiameseCNNClassifier

TINY = dict(
    embeddings="random",
    embedding_dim=16,
    min_count=1,
    n_filters=8,
    hidden=16,
    epochs=3,
    batch_size=16,
    num_threads=1,
    progress=False,
)
"""Random 16-d embeddings, 8 filters per width, 3 epochs, one thread."""


def make_tiny(tmp_path: pathlib.Path) -> SiameseCNNClassifier:
    """An unfitted tiny S-CNN (`TINY`)."""
    return SiameseCNNClassifier(**TINY)
