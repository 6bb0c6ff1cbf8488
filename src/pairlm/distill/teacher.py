"""The teacher's side of distillation: who the teacher is (a fingerprint), its scores of
silver pairs cached on disk by pair, and the scoring itself, in batches, in this process or
on Ray.

Scoring silver pairs is the costly step (an LLM ensemble scores a few pairs a second on a
CPU), so every batch is committed to the cache as soon as it is scored: a killed run, rerun
with the same teacher and `cache_dir`, scores only the pairs it had not reached. The cache
is one SQLite file per teacher (`teacher-<fingerprint>.sqlite`), a row per ordered pair
(text_a, text_b, P(match)), readable with any SQLite client.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import PairClassifier, training_fingerprint
from pairlm.progress import progress

log = logging.getLogger(__name__)

CACHE_PREFIX = "teacher-"


def saved_model_fingerprint(model_dir: str | Path) -> str:
    """A content hash of a saved model directory (every file's relative path and bytes)."""
    root = Path(model_dir)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode() + b"\x00")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def trained_fingerprint(family: str, config: Any, train: PairDataset, valid: PairDataset) -> str:
    """The fingerprint of a teacher trained here: its family, its config (less runtime keys)
    and its training and validation pairs (`training_fingerprint`)."""
    return training_fingerprint(config, train, valid, extra=f"distill-teacher:{family}")


class ScoreCache:
    """Teacher scores by ordered pair, in `directory/teacher-<teacher_id>.sqlite` (None:
    in memory only, for this fit)."""

    def __init__(self, directory: str | Path | None, teacher_id: str) -> None:
        self.path = (
            None if directory is None else Path(directory) / f"{CACHE_PREFIX}{teacher_id}.sqlite"
        )
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(":memory:" if self.path is None else str(self.path))
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS scores (text_a TEXT NOT NULL, text_b TEXT NOT NULL, "
            "p REAL NOT NULL, PRIMARY KEY (text_a, text_b))"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.commit()

    def set_meta(self, **items: Any) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, json.dumps(v, sort_keys=True)) for k, v in items.items()],
        )
        self.conn.commit()

    def lookup(self, text_a: Sequence[str], text_b: Sequence[str]) -> np.ndarray:
        """The cached P(match) of each pair, NaN where none is cached."""
        out = np.full(len(text_a), np.nan)
        cur = self.conn.cursor()
        for k, (a, b) in enumerate(zip(text_a, text_b)):
            row = cur.execute(
                "SELECT p FROM scores WHERE text_a = ? AND text_b = ?", (a, b)
            ).fetchone()
            if row is not None:
                out[k] = row[0]
        return out

    def put(self, text_a: Sequence[str], text_b: Sequence[str], p: np.ndarray) -> None:
        """Store one scored batch (committed at once: it survives a kill)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?)",
            [(str(a), str(b), float(x)) for a, b, x in zip(text_a, text_b, p)],
        )
        self.conn.commit()

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def pairs(self) -> list[tuple[str, str, float]]:
        """Every cached (text_a, text_b, p)."""
        return list(self.conn.execute("SELECT text_a, text_b, p FROM scores"))

    def close(self) -> None:
        self.conn.close()


ScoreFn = Callable[[PairDataset], np.ndarray]


def local_scorer(teacher: PairClassifier) -> ScoreFn:
    """Score a batch with the teacher in this process."""
    return lambda batch: np.asarray(teacher.predict_proba(batch), dtype=np.float64)


def ray_scorer(model_dir: str | Path, address: str | None = None) -> ScoreFn:
    """Score a batch on Ray actors that load the saved teacher (`pairlm predict --backend
    ray`'s path: `pairlm.models.ray_scoring.score_on_ray`)."""
    from pairlm.models.ray_scoring import score_on_ray

    def score(batch: PairDataset) -> np.ndarray:
        return score_on_ray(model_dir, batch, batch_size=min(1024, len(batch)), address=address)

    return score


def score_pairs(
    score: ScoreFn,
    text_a: Sequence[str],
    text_b: Sequence[str],
    cache: ScoreCache,
    *,
    batch_size: int = 512,
    show_progress: bool | None = None,
) -> tuple[np.ndarray, int]:
    """P(match) of every pair by the teacher: cached scores reused, the rest scored in
    batches of `batch_size`, each batch cached as soon as it is scored. Returns (scores,
    pairs scored now)."""
    p = cache.lookup(text_a, text_b)
    todo = np.flatnonzero(np.isnan(p))
    log.info(
        "teacher scores: %d of %d pairs cached, %d to score", len(p) - len(todo), len(p), len(todo)
    )
    batches = [todo[s : s + batch_size] for s in range(0, len(todo), batch_size)]
    for idx in progress(
        batches, desc="teacher scoring silver pairs", unit="batch", enabled=show_progress
    ):
        a = [str(text_a[k]) for k in idx]
        b = [str(text_b[k]) for k in idx]
        got = np.clip(np.asarray(score(PairDataset.from_pairs(a, b)), dtype=np.float64), 0.0, 1.0)
        if got.shape != (len(idx),) or not np.isfinite(got).all():
            raise RuntimeError(f"the teacher returned {got.shape} scores for {len(idx)} pairs")
        cache.put(a, b, got)
        p[idx] = got
    return p, len(todo)


def saved_copy(teacher: PairClassifier, directory: str | Path | None) -> Path:
    """A saved copy of a teacher trained in this process (for Ray actors to load): under
    `directory` when given, else a temporary folder."""
    base = (
        Path(directory)
        if directory is not None
        else Path(tempfile.mkdtemp(prefix="pairlm-teacher-"))
    )
    out = base / "teacher-model"
    teacher.save(out)
    return out
