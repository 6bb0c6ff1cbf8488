"""Teacher scoring: batched, every batch cached by pair as it is scored, so a run killed after
N batches scores only the rest when run again; a different teacher has its own cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.distill import teacher as tmod
from pairlm.distill.teacher import ScoreCache, saved_model_fingerprint, score_pairs
from tests.conftest import make_toy_pairs
from tests.models.tiny_distill import make_tiny


class Killed(RuntimeError):
    pass


def _scorer(calls: list[int], kill_after: int | None = None):
    def score(batch: PairDataset) -> np.ndarray:
        if kill_after is not None and len(calls) >= kill_after:
            raise Killed("killed")
        calls.append(len(batch))
        return np.array([(len(a) % 7) / 7 for a in batch.text_a])

    return score


def test_a_killed_scoring_resumes_with_the_pairs_it_had_not_reached(tmp_path: Path) -> None:
    a = [f"question {i}?" for i in range(95)]
    b = [f"other question {i}?" for i in range(95)]
    calls: list[int] = []
    cache = ScoreCache(tmp_path, "t1")
    with pytest.raises(Killed):
        score_pairs(_scorer(calls, kill_after=3), a, b, cache, batch_size=10, show_progress=False)
    cache.close()
    assert calls == [10, 10, 10]
    cache = ScoreCache(tmp_path, "t1")  # a new process: the file is all that is left
    assert len(cache) == 30
    calls2: list[int] = []
    p, now = score_pairs(_scorer(calls2), a, b, cache, batch_size=10, show_progress=False)
    assert now == 65 and sum(calls2) == 65
    full, _ = score_pairs(_scorer([]), a, b, ScoreCache(None, "x"), batch_size=7)
    np.testing.assert_allclose(p, full)
    calls3: list[int] = []
    score_pairs(_scorer(calls3), a, b, cache, batch_size=10, show_progress=False)
    assert calls3 == []  # everything cached
    cache.close()
    with sqlite3.connect(tmp_path / "teacher-t1.sqlite") as con:  # readable by any client
        assert con.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 95


def test_pairs_are_cached_in_their_order(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, "t")
    cache.put(["a"], ["b"], np.array([0.25]))
    assert cache.lookup(["a", "b"], ["b", "a"])[0] == 0.25
    assert np.isnan(cache.lookup(["b"], ["a"])[0])


def test_saved_model_fingerprint_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"abc")
    f1 = saved_model_fingerprint(tmp_path / "m")
    (tmp_path / "m" / "w.bin").write_bytes(b"abd")
    assert saved_model_fingerprint(tmp_path / "m") != f1


def test_a_killed_distill_fit_rescores_only_what_it_had_not_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, valid = make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2)
    calls: list[int] = []
    real = tmod.local_scorer

    def dying(teacher):  # the teacher's real scores, but the process "dies" after 2 batches
        inner = real(teacher)

        def score(batch: PairDataset) -> np.ndarray:
            if len(calls) == 2:
                raise Killed("killed")
            calls.append(len(batch))
            return inner(batch)

        return score

    monkeypatch.setattr(tmod, "local_scorer", dying)
    with pytest.raises(Killed):
        make_tiny(tmp_path, cache_dir=str(tmp_path / "c"), score_batch=16).fit(train, valid)
    monkeypatch.setattr(tmod, "local_scorer", real)
    again = make_tiny(tmp_path, cache_dir=str(tmp_path / "c"), score_batch=16).fit(train, valid)
    total = again.summary_["silver"]["total"]
    assert total == 90  # bm25 1.0 + random 0.5 of 60 gold pairs
    assert again.summary_["scored_now"] == total - 32
    fresh = make_tiny(tmp_path).fit(train, valid)  # no cache: the same model
    test = make_toy_pairs(30, seed=5)
    np.testing.assert_allclose(again.predict_proba(test), fresh.predict_proba(test), atol=1e-9)
