"""The old name of `pairlm.models.ray_scoring` (batch scoring on Ray), kept for imports."""

from pairlm.models.ray_scoring import (
    MISSING,
    PairScorer,
    ray_session,
    require_ray,
    saved_meta,
    saved_threshold,
    score_on_ray,
    set_threads,
)

__all__ = [
    "MISSING",
    "PairScorer",
    "ray_session",
    "require_ray",
    "saved_meta",
    "saved_threshold",
    "score_on_ray",
    "set_threads",
]
