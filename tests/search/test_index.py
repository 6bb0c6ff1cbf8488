from __future__ import annotations

import numpy as np
import pytest
import tinyparts

from pairlm.search.index import FAISS_FILE, CorpusIndex, EncoderMismatchError, IndexConfig


@pytest.fixture()
def index(tmp_path, tiny_encoder):
    idx = CorpusIndex.build(
        tmp_path / "idx", list(tinyparts.DOCS), list(tinyparts.DOCS.values()), encoder=tiny_encoder
    )
    yield idx
    idx.close()


def test_build_search_and_meta(index, tiny_encoder):
    hits = index.search("how do i learn python", k=3)[0]
    assert hits[0].doc_id == "d1" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    info = index.info()
    assert info["documents"] == 10 and info["index_type"] == "flat"
    assert info["encoder_path"] == tiny_encoder and info["dim"] == 32


def test_reopen_without_reembedding_and_add_delete(index, tmp_path, tiny_encoder):
    index.add(["n1", "d2"], ["how can i buy a cheap phone", "why is the ocean deep"])
    assert index.delete(["d3", "missing"]) == 1
    index.close()
    idx = CorpusIndex.open(tmp_path / "idx")
    try:
        assert len(idx) == 10  # 10 + n1 - d3 (d2 replaced)
        assert idx.get(["d2"]) == {"d2": "why is the ocean deep"}  # replaced
        assert "d3" not in idx
        assert idx.search("how can i buy a cheap phone", 1)[0][0].doc_id == "n1"
        assert all(h.doc_id != "d3" for h in idx.search("how can i cook rice", 11)[0])
        assert idx.check()["consistent"]
    finally:
        idx.close()


def test_different_encoder_is_refused(index, tmp_path, tiny_encoder_b):
    index.close()
    with pytest.raises(EncoderMismatchError, match="built with encoder"):
        CorpusIndex.open(tmp_path / "idx", encoder=tiny_encoder_b)


def test_reconcile_after_lost_faiss_updates(tmp_path, tiny_encoder):
    """SQLite is the truth: changes after the last FAISS write are recovered on open."""
    cfg = IndexConfig(persist_every=10_000)
    idx = CorpusIndex.build(
        tmp_path / "i",
        list(tinyparts.DOCS),
        list(tinyparts.DOCS.values()),
        encoder=tiny_encoder,
        config=cfg,
    )
    idx.add(["x1"], ["how do i learn java code"])
    idx.delete(["d1"])
    # simulate a kill: no close(), so vectors.faiss still holds the build-time state
    idx._conn.close()
    idx2 = CorpusIndex.open(tmp_path / "i")
    try:
        assert idx2.check() == {"faiss_live": 10, "sqlite": 10, "consistent": True}
        assert idx2.search("how do i learn java code", 1)[0][0].doc_id == "x1"
        assert all(h.doc_id != "d1" for h in idx2.search("how do i learn python", 10)[0])
    finally:
        idx2.close()
    (tmp_path / "i" / FAISS_FILE).unlink()  # a lost FAISS file is rebuilt from SQLite blobs
    idx3 = CorpusIndex.open(tmp_path / "i")
    assert len(idx3) == 10 and idx3.check()["consistent"]
    idx3.close()


def test_hnsw_above_threshold_tombstones_and_rebuild(tmp_path, tiny_encoder):
    rng = np.random.default_rng(0)
    words = tinyparts.WORDS
    texts = [" ".join(rng.choice(words, 6)) + f" {i}" for i in range(60)]
    ids = [f"t{i}" for i in range(60)]
    cfg = IndexConfig(hnsw_threshold=50, rebuild_tombstone_fraction=0.5)
    idx = CorpusIndex.build(tmp_path / "h", ids[:40], texts[:40], encoder=tiny_encoder, config=cfg)
    assert idx.index_type == "flat"
    idx.add(ids[40:], texts[40:])
    assert idx.index_type == "hnsw" and len(idx) == 60
    idx.delete(ids[:5])
    assert idx.info()["tombstones"] == 5 and idx.check()["consistent"]
    got = {h.doc_id for h in idx.search(texts[0], 60)[0]}
    assert not got & set(ids[:5]) and len(got) == 55
    idx.close()
    idx = CorpusIndex.open(tmp_path / "h")
    assert idx.info()["tombstones"] == 5 and len(idx) == 55
    idx.delete(ids[5:35])  # tombstones past the fraction: the graph is rebuilt
    assert idx.info()["tombstones"] == 0 and idx.info()["faiss_vectors"] == 25
    idx.close()


def test_build_refuses_existing_and_bad_input(index, tmp_path, tiny_encoder):
    with pytest.raises(FileExistsError):
        CorpusIndex.build(tmp_path / "idx", ["a"], ["b"], encoder=tiny_encoder)
    with pytest.raises(ValueError, match="non-empty"):
        index.add(["e"], ["  "])
    with pytest.raises(ValueError, match="2 ids but 1 texts"):
        index.add(["a", "b"], ["c"])
    with pytest.raises(FileNotFoundError):
        CorpusIndex.open(tmp_path / "nothing")
