"""pairlm.search: corpus index, retrieve-then-rerank, all-pairs mining, matching.

Imports are lazy so that ``import pairlm.search`` stays light (no faiss, no torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CorpusIndex": "pairlm.search.index",
    "IndexConfig": "pairlm.search.index",
    "Hit": "pairlm.search.index",
    "EncoderMismatchError": "pairlm.search.index",
    "Reranker": "pairlm.search.rerank",
    "search_and_rerank": "pairlm.search.rerank",
    "mine_pairs": "pairlm.search.mining",
    "mine_index": "pairlm.search.mining",
    "candidate_pairs": "pairlm.search.mining",
    "match": "pairlm.search.matching",
    "match_and_evaluate": "pairlm.search.matching",
    "match_index": "pairlm.search.matching",
    "Match": "pairlm.search.matching",
    "Judgements": "pairlm.search.judge",
    "JudgementsError": "pairlm.search.judge",
    "read_judgements": "pairlm.search.judge",
    "evaluate_matching": "pairlm.search.judge",
    "split_passages": "pairlm.search.matching",
    "read_corpus": "pairlm.search.corpus",
    "Corpus": "pairlm.search.corpus",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pairlm.search' has no attribute {name!r}")
