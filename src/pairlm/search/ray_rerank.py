"""`pairlm mine --reranker MODEL --backend ray`: the candidate pairs scored on Ray.

`RayReranker` keeps `Reranker`'s interface (`score`, `threshold`, `family`) but scores through
`pairlm.models.ray_scoring.score_on_ray`, the path of `pairlm predict --backend ray`: Ray
Data blocks, `map_batches` actors that load the model once. Mining scores all its candidate
pairs in one call, which is where Ray pays. (`match` scores each query's passages apart, one
small call per query; it stays on the local reranker.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.search.rerank import Reranker


class RayReranker(Reranker):
    """A reranker whose model is loaded by Ray actors, never in this process."""

    def __init__(
        self,
        model_dir: str | Path,
        threshold: float | None = None,
        batch_size: int = 1024,
        *,
        actors: int | None = None,
        address: str | None = None,
    ) -> None:
        from pairlm.models.ray_scoring import require_ray, saved_meta

        require_ray()
        meta = saved_meta(model_dir)
        self.path = self._model_dir = str(model_dir)
        self._family = str(meta["family"])
        self.threshold = float(meta["threshold"] if threshold is None else threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        self.batch_size = int(batch_size)
        self.actors = actors
        self.address = address

    @property
    def family(self) -> str:
        return self._family

    def score(self, text_a: Sequence[str], text_b: Sequence[str]) -> np.ndarray:
        """P(duplicate) for each (text_a[i], text_b[i]), shape (n,), scored on Ray."""
        from pairlm.models.ray_scoring import score_on_ray

        if len(text_a) != len(text_b):
            raise ValueError(f"{len(text_a)} first texts but {len(text_b)} second texts")
        if len(text_a) == 0:
            return np.zeros(0, dtype=np.float64)
        ds = PairDataset.from_pairs(list(text_a), list(text_b))
        p = score_on_ray(
            self._model_dir,
            ds,
            actors=self.actors,
            batch_size=self.batch_size,
            address=self.address,
        )
        return np.clip(p, 0.0, 1.0)
