"""Search quality on the shared QQP questions (integration).

Building the index embeds ~44k questions (minutes on 2 cores), so `make test` does not build
it: build it once with

    pairlm index build --corpus ../shared/data/qqp/glue-train-subset.tsv \
        --out ~/.cache/pairlm/qqp-index

(or point PAIRLM_QQP_INDEX at one); this test skips with that advice when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

INDEX = Path(os.environ.get("PAIRLM_QQP_INDEX", Path.home() / ".cache" / "pairlm" / "qqp-index"))

# Linked by is_duplicate=1 pairs in glue-train-subset.tsv (one cluster of "learn Python" questions)
KNOWN_DUPLICATES = {
    "How do I learn Python systematically?",
    "How can I learn advanced Python?",
    "What's the best way to learn Python?",
}


def test_learn_python_finds_known_duplicates():
    if not (INDEX / "index.sqlite").is_file():
        pytest.skip(f"no QQP index at {INDEX}; build it once (see this module's docstring)")
    try:
        from pairlm.search.index import CorpusIndex

        idx = CorpusIndex.open(INDEX)
    except ImportError as e:
        pytest.skip(f"packaged encoder not installed: {e}")
    try:
        assert len(idx) > 40_000
        hits = idx.search("How do I learn Python?", k=10)[0]
    finally:
        idx.close()
    texts = [h.text for h in hits]
    assert "python" in texts[0].lower() and "learn" in texts[0].lower()
    assert len(KNOWN_DUPLICATES & set(texts)) >= 2, texts
    assert all("python" in t.lower() for t in texts[:5]), texts
