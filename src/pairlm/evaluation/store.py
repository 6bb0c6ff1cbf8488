"""One SQLite database per experiment directory: runs, configs, fold assignments, per-fold
metrics and every out-of-fold prediction.

Each finished fold is written in one transaction, so a killed run leaves either the whole
fold or nothing; `finished_folds()` tells a resumed run where to start.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pairlm.errors import ConfigError, StoreError

DB_NAME = "results.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    n_pairs INTEGER NOT NULL,
    positives INTEGER NOT NULL,
    report_json TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS splits (
    key TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    protocol_json TEXT NOT NULL,
    folds BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    family TEXT NOT NULL,
    config_json TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split_key TEXT NOT NULL,
    protocol_json TEXT NOT NULL,
    caveats_json TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS folds (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    fold INTEGER NOT NULL,
    n_train INTEGER NOT NULL,
    n_valid INTEGER NOT NULL,
    n_test INTEGER NOT NULL,
    threshold REAL NOT NULL,
    metrics_json TEXT NOT NULL,
    fit_seconds REAL NOT NULL,
    predict_seconds REAL NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (run_id, fold)
);
CREATE TABLE IF NOT EXISTS predictions (
    run_id INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    pair_id TEXT NOT NULL,
    label INTEGER NOT NULL,
    proba REAL NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS pairs (
    split_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    pair_id TEXT NOT NULL,
    text_a TEXT NOT NULL,
    text_b TEXT NOT NULL,
    PRIMARY KEY (split_key, idx)
);
CREATE TABLE IF NOT EXISTS transfers (
    run_id INTEGER PRIMARY KEY,
    source_dataset TEXT NOT NULL,
    source_split_key TEXT NOT NULL,
    target_dataset TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    name: str
    family: str
    config: dict[str, Any]
    dataset: str
    split_key: str
    protocol: dict[str, Any]
    caveats: list[str]


@dataclass(frozen=True)
class FoldResult:
    fold: int
    n_train: int
    n_valid: int
    n_test: int
    threshold: float
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _run_differences(
    a: tuple[str, dict[str, Any], str, str],
    b: tuple[str, dict[str, Any], str, str],
    canonical: Callable[[str, dict[str, Any]], dict[str, Any]] | None,
) -> list[str]:
    """Which of family, config, dataset, split_key differ between two runs' records
    (family, config, dataset, split key). `canonical(family, config)` makes the config
    comparison one of meaning (a config no longer valid as is is compared as stored)."""

    def same(family: str, c: dict[str, Any]) -> Any:
        if canonical is not None:
            with suppress(ConfigError, ValueError, TypeError, KeyError, ImportError):
                c = canonical(family, dict(c))
        return json.loads(_dumps(c))

    names = ("family", "config", "dataset", "split_key")
    want = (a[0], same(a[0], a[1]), a[2], a[3])
    have = (b[0], same(b[0], b[1]), b[2], b[3])
    return [n for n, x, y in zip(names, want, have, strict=True) if x != y]


class ResultStore:
    """The results database of one experiment directory (`DIR/results.sqlite`)."""

    def __init__(self, directory: str | Path, *, create: bool = True) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no results in {self.directory} (no {DB_NAME})")
            self.directory.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            # OR IGNORE: two processes may open a new store at the same moment.
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {row[0]}; this pairlm reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self._conn.close()

    def snapshot(self, directory: str | Path, runs: list[str] | None = None) -> Path:
        """A consistent copy of the store (finished folds only, as committed) written as
        `directory/results.sqlite` in rollback-journal mode (one self-contained file, fit
        for version control), while runs may still be writing to this one. `runs`: keep
        only these runs (and the splits and texts they use)."""
        dest = Path(directory)
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / DB_NAME
        if final.resolve() == self.path.resolve():
            raise StoreError(f"{final} is this store itself; give another directory")
        tmp = dest / f".{DB_NAME}.tmp"
        tmp.unlink(missing_ok=True)
        out = sqlite3.connect(tmp)
        try:
            self._conn.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")
            if runs is not None:
                have = {r[0] for r in out.execute("SELECT name FROM runs")}
                missing = sorted(set(runs) - have)
                if missing:
                    raise StoreError(f"no run(s) {', '.join(missing)} in {self.path}")
                marks = ",".join("?" * len(runs))
                drop = f"SELECT run_id FROM runs WHERE name NOT IN ({marks})"
                with out:
                    for table in ("predictions", "folds", "transfers"):
                        out.execute(f"DELETE FROM {table} WHERE run_id IN ({drop})", runs)
                    out.execute(f"DELETE FROM runs WHERE name NOT IN ({marks})", runs)
                    out.execute("DELETE FROM splits WHERE key NOT IN (SELECT split_key FROM runs)")
                    out.execute(
                        "DELETE FROM pairs WHERE split_key NOT IN (SELECT split_key FROM runs)"
                    )
            out.execute("VACUUM")
        finally:
            out.close()
        os.replace(tmp, final)
        return final

    def merge(
        self,
        other: str | Path,
        canonical: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Copy into this store the finished folds of the store in directory `other` that
        this one lacks: its new runs whole, and the missing folds of runs both hold (a store
        rebuilt from published snapshots, or folds run on two machines). Folds this store
        already has are kept as they are. One transaction: all or nothing.

        A run both hold must have the same family, config, dataset and split, a dataset the
        same contents and a split the same folds, else `StoreError` naming it and nothing is
        copied; `canonical(family, config)` compares configs by meaning, as a resumed run
        does (see `get_or_create_run`). Returns counts: runs added, folds added, folds
        already here."""
        src_path = Path(other) / DB_NAME
        if not src_path.exists():
            raise FileNotFoundError(f"no results in {other} (no {DB_NAME})")
        if src_path.resolve() == self.path.resolve():
            raise StoreError(f"{src_path} is this store itself")
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
        counts = {"runs_added": 0, "folds_added": 0, "folds_kept": 0}
        try:
            row = src.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None or int(row[0]) != SCHEMA_VERSION:
                raise StoreError(
                    f"{src_path} has schema version {'none' if row is None else row[0]}; "
                    f"this pairlm reads {SCHEMA_VERSION}"
                )
            with self.transaction() as c:
                _merge_datasets_and_splits(c, src, src_path, self.path)
                for run in src.execute(
                    "SELECT run_id, name, family, config_json, dataset, split_key, "
                    "protocol_json, caveats_json, created_at FROM runs ORDER BY run_id"
                ).fetchall():
                    new_id = _merge_run(c, src, run, canonical, (src_path, self.path), counts)
                    _merge_folds(c, src, run[0], new_id, counts)
        finally:
            src.close()
        return counts

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ datasets & splits
    def put_dataset(
        self,
        name: str,
        source: str,
        fingerprint: str,
        n_pairs: int,
        positives: int,
        report: dict[str, Any] | None,
    ) -> None:
        row = self._conn.execute(
            "SELECT fingerprint FROM datasets WHERE name=?", (name,)
        ).fetchone()
        if row is not None:
            if row[0] != fingerprint:
                raise StoreError(
                    f"dataset {name!r} in {self.path} was recorded with other contents "
                    f"(fingerprint {row[0]} != {fingerprint}); use a new --out directory"
                )
            return
        with self.transaction() as c:
            c.execute(
                "INSERT INTO datasets VALUES (?,?,?,?,?,?,?)",
                (
                    name,
                    source,
                    fingerprint,
                    n_pairs,
                    positives,
                    None if report is None else _dumps(report),
                    time.time(),
                ),
            )

    def dataset_report(self, name: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT source, n_pairs, positives, report_json FROM datasets WHERE name=?", (name,)
        ).fetchone()
        if row is None:
            return None
        return {
            "source": row[0],
            "n_pairs": row[1],
            "positives": row[2],
            "report": None if row[3] is None else json.loads(row[3]),
        }

    def get_split(self, key: str) -> np.ndarray | None:
        row = self._conn.execute("SELECT folds FROM splits WHERE key=?", (key,)).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.int16).astype(np.int64)

    def put_split(
        self, key: str, dataset: str, protocol: dict[str, Any], folds: np.ndarray
    ) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO splits VALUES (?,?,?,?,?)",
                (key, dataset, _dumps(protocol), folds.astype(np.int16).tobytes(), time.time()),
            )

    # ------------------------------------------------------------------ runs
    def get_or_create_run(
        self,
        name: str,
        family: str,
        config: dict[str, Any],
        dataset: str,
        split_key: str,
        protocol: dict[str, Any],
        caveats: list[str] | None = None,
        canonical: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> RunInfo:
        """The run called `name`; created if new. A resumed run must have the same family,
        config, dataset and protocol, else `StoreError` (results would mix two experiments).

        The config is stored as given; `canonical` (the family's parse-and-dump) makes the
        comparison one of meaning, so `{}` and a config spelling out a default are the same
        run."""
        existing = self.get_run(name)
        if existing is not None:
            diff = _run_differences(
                (family, config, dataset, split_key),
                (existing.family, existing.config, existing.dataset, existing.split_key),
                None if canonical is None else (lambda _f, c: canonical(c)),
            )
            if diff:
                raise StoreError(
                    f"run {name!r} already exists in {self.path} with a different "
                    f"{', '.join(diff)}; choose another run name (--name) or --out directory"
                )
            return existing
        try:
            with self.transaction() as c:
                c.execute(
                    "INSERT INTO runs (name, family, config_json, dataset, split_key, protocol_json,"
                    " caveats_json, created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        name,
                        family,
                        _dumps(config),
                        dataset,
                        split_key,
                        _dumps(protocol),
                        _dumps(caveats or []),
                        time.time(),
                    ),
                )
        except sqlite3.IntegrityError:
            # another process (a second fold of the same run) created it since get_run:
            # check it as any existing run
            if self.get_run(name) is None:
                raise
            return self.get_or_create_run(
                name, family, config, dataset, split_key, protocol, caveats, canonical
            )
        run = self.get_run(name)
        assert run is not None
        return run

    def get_run(self, name: str) -> RunInfo | None:
        row = self._conn.execute(
            "SELECT run_id, name, family, config_json, dataset, split_key, protocol_json,"
            " caveats_json FROM runs WHERE name=?",
            (name,),
        ).fetchone()
        return None if row is None else _run(row)

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first: by creation time, which a merge keeps (run ids follow
        the merge's order), so a store rebuilt from snapshots lists its runs as before."""
        rows = self._conn.execute(
            "SELECT run_id, name, family, config_json, dataset, split_key, protocol_json,"
            " caveats_json FROM runs ORDER BY created_at, run_id"
        ).fetchall()
        return [_run(r) for r in rows]

    # ------------------------------------------------------------------ folds
    def finished_folds(self, run_id: int) -> set[int]:
        rows = self._conn.execute("SELECT fold FROM folds WHERE run_id=?", (run_id,)).fetchall()
        return {int(r[0]) for r in rows}

    def save_fold(
        self,
        run_id: int,
        result: FoldResult,
        test_indices: np.ndarray,
        pair_ids: np.ndarray,
        labels: np.ndarray,
        proba: np.ndarray,
    ) -> None:
        """Write one fold's metrics and predictions atomically."""
        if not (len(test_indices) == len(pair_ids) == len(labels) == len(proba)):
            raise ValueError("test_indices, pair_ids, labels and proba must have the same length")
        rows = [
            (run_id, result.fold, int(i), str(p), int(y), float(s))
            for i, p, y, s in zip(test_indices, pair_ids, labels, proba)
        ]
        with self.transaction() as c:
            c.execute("DELETE FROM predictions WHERE run_id=? AND fold=?", (run_id, result.fold))
            c.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?)", rows)
            c.execute(
                "INSERT OR REPLACE INTO folds VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    result.fold,
                    result.n_train,
                    result.n_valid,
                    result.n_test,
                    result.threshold,
                    _dumps(result.metrics),
                    result.fit_seconds,
                    result.predict_seconds,
                    time.time(),
                ),
            )

    def fold_results(self, run_id: int) -> list[FoldResult]:
        rows = self._conn.execute(
            "SELECT fold, n_train, n_valid, n_test, threshold, metrics_json, fit_seconds,"
            " predict_seconds FROM folds WHERE run_id=? ORDER BY fold",
            (run_id,),
        ).fetchall()
        return [
            FoldResult(
                int(r[0]),
                int(r[1]),
                int(r[2]),
                int(r[3]),
                float(r[4]),
                json.loads(r[5]),
                float(r[6]),
                float(r[7]),
            )
            for r in rows
        ]

    def predictions(self, run_id: int) -> dict[str, np.ndarray]:
        """Pooled out-of-fold predictions of a run, ordered by dataset index:
        arrays idx, fold, pair_id, label, proba and threshold (the fold's)."""
        rows = self._conn.execute(
            "SELECT p.idx, p.fold, p.pair_id, p.label, p.proba, f.threshold FROM predictions p"
            " JOIN folds f ON f.run_id = p.run_id AND f.fold = p.fold"
            " WHERE p.run_id=? ORDER BY p.idx",
            (run_id,),
        ).fetchall()
        if not rows:
            empty = np.zeros(0)
            return {k: empty for k in ("idx", "fold", "pair_id", "label", "proba", "threshold")}
        idx, fold, pid, label, proba, thr = zip(*rows)
        return {
            "idx": np.asarray(idx, dtype=np.int64),
            "fold": np.asarray(fold, dtype=np.int64),
            "pair_id": np.asarray(pid, dtype=object),
            "label": np.asarray(label, dtype=np.int64),
            "proba": np.asarray(proba, dtype=np.float64),
            "threshold": np.asarray(thr, dtype=np.float64),
        }

    # ------------------------------------------------------------------ pair texts
    def has_pairs(self, split_key: str) -> bool:
        """Whether the texts of the pairs cross-validated under `split_key` are stored."""
        row = self._conn.execute(
            "SELECT 1 FROM pairs WHERE split_key=? LIMIT 1", (split_key,)
        ).fetchone()
        return row is not None

    def put_pairs(self, split_key: str, pair_ids: Any, text_a: Any, text_b: Any) -> None:
        """Store the texts of the pairs cross-validated under `split_key`, by position (the
        `idx` of `predictions`); written once (later calls are no-ops)."""
        if not (len(pair_ids) == len(text_a) == len(text_b)):
            raise ValueError("pair_ids, text_a and text_b must have the same length")
        rows = [
            (split_key, i, str(p), str(a), str(b))
            for i, (p, a, b) in enumerate(zip(pair_ids, text_a, text_b))
        ]
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM pairs WHERE split_key=? LIMIT 1", (split_key,)).fetchone():
                return
            c.executemany("INSERT INTO pairs VALUES (?,?,?,?,?)", rows)

    def all_pair_texts(self, split_key: str) -> dict[str, np.ndarray]:
        """Every stored pair under `split_key`: arrays idx, pair_id, text_a, text_b."""
        rows = self._conn.execute(
            "SELECT idx, pair_id, text_a, text_b FROM pairs WHERE split_key=? ORDER BY idx",
            (split_key,),
        ).fetchall()
        if not rows:
            e = np.zeros(0, dtype=object)
            return {"idx": np.zeros(0, dtype=np.int64), "pair_id": e, "text_a": e, "text_b": e}
        i, p, a, b = zip(*rows)
        return {
            "idx": np.asarray(i, dtype=np.int64),
            "pair_id": np.asarray(p, dtype=object),
            "text_a": np.asarray(a, dtype=object),
            "text_b": np.asarray(b, dtype=object),
        }

    # ------------------------------------------------------------------ transfer runs
    def put_transfer(
        self, run_id: int, source_dataset: str, source_split_key: str, target_dataset: str
    ) -> None:
        """Record that run `run_id` trains on `source_dataset` (folds of `source_split_key`)
        and is scored on `target_dataset` (its own folds: the run's split_key)."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO transfers VALUES (?,?,?,?,?)",
                (run_id, source_dataset, source_split_key, target_dataset, time.time()),
            )

    def transfers(self) -> dict[int, dict[str, str]]:
        """run_id -> {"source_dataset", "source_split_key", "target_dataset"}."""
        rows = self._conn.execute(
            "SELECT run_id, source_dataset, source_split_key, target_dataset FROM transfers"
        ).fetchall()
        return {
            int(r[0]): {"source_dataset": r[1], "source_split_key": r[2], "target_dataset": r[3]}
            for r in rows
        }

    def fold_finished_at(self, run_id: int) -> dict[int, float]:
        """fold -> the time it was written (a redone fold gets a new time)."""
        rows = self._conn.execute(
            "SELECT fold, finished_at FROM folds WHERE run_id=?", (run_id,)
        ).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}


def _run(row: tuple[Any, ...]) -> RunInfo:
    return RunInfo(
        run_id=int(row[0]),
        name=row[1],
        family=row[2],
        config=json.loads(row[3]),
        dataset=row[4],
        split_key=row[5],
        protocol=json.loads(row[6]),
        caveats=json.loads(row[7]),
    )


# ---------------------------------------------------------------------- merge (ResultStore.merge)
def _merge_datasets_and_splits(
    c: sqlite3.Connection, src: sqlite3.Connection, src_path: Path, path: Path
) -> None:
    """Copy the datasets, splits and pair texts `src` has and `c` lacks; StoreError for a
    dataset of other contents or a split of other folds."""
    for d in src.execute("SELECT * FROM datasets").fetchall():
        have = c.execute("SELECT fingerprint FROM datasets WHERE name=?", (d[0],)).fetchone()
        if have is None:
            c.execute("INSERT INTO datasets VALUES (?,?,?,?,?,?,?)", d)
        elif have[0] != d[2]:
            raise StoreError(
                f"dataset {d[0]!r} has other contents in {src_path} than in "
                f"{path} (fingerprint {d[2]} != {have[0]})"
            )
    for s in src.execute("SELECT * FROM splits").fetchall():
        have = c.execute("SELECT folds FROM splits WHERE key=?", (s[0],)).fetchone()
        if have is None:
            c.execute("INSERT INTO splits VALUES (?,?,?,?,?)", s)
        elif bytes(have[0]) != bytes(s[3]):
            raise StoreError(f"split {s[0]!r} assigns other folds in {src_path} than in {path}")
        if not c.execute("SELECT 1 FROM pairs WHERE split_key=? LIMIT 1", (s[0],)).fetchone():
            c.executemany(
                "INSERT INTO pairs VALUES (?,?,?,?,?)",
                src.execute("SELECT * FROM pairs WHERE split_key=?", (s[0],)),
            )


def _merge_run(
    c: sqlite3.Connection,
    src: sqlite3.Connection,
    run: tuple[Any, ...],
    canonical: Callable[[str, dict[str, Any]], dict[str, Any]] | None,
    paths: tuple[Path, Path],
    counts: dict[str, int],
) -> int:
    """The id in `c` of `src`'s run `run` (a row of its runs table): added with its transfer
    record when `c` lacks it, else checked to be the same run (StoreError naming what
    differs). `paths`: (the source's database, this store's) for messages."""
    old_id, name = run[0], run[1]
    mine = c.execute(
        "SELECT run_id, family, config_json, dataset, split_key FROM runs WHERE name=?",
        (name,),
    ).fetchone()
    if mine is not None:
        diff = _run_differences(
            (run[2], json.loads(run[3]), run[4], run[5]),
            (mine[1], json.loads(mine[2]), mine[3], mine[4]),
            canonical,
        )
        if diff:
            raise StoreError(
                f"run {name!r} has another {', '.join(diff)} in {paths[0]} "
                f"than in {paths[1]}; nothing merged"
            )
        return int(mine[0])
    cur = c.execute(
        "INSERT INTO runs (name, family, config_json, dataset, split_key, "
        "protocol_json, caveats_json, created_at) VALUES (?,?,?,?,?,?,?,?)",
        run[1:],
    )
    new_id = int(cur.lastrowid or 0)
    counts["runs_added"] += 1
    t = src.execute(
        "SELECT source_dataset, source_split_key, target_dataset, "
        "created_at FROM transfers WHERE run_id=?",
        (old_id,),
    ).fetchone()
    if t is not None:
        c.execute("INSERT INTO transfers VALUES (?,?,?,?,?)", (new_id, *t))
    return new_id


def _merge_folds(
    c: sqlite3.Connection,
    src: sqlite3.Connection,
    old_id: int,
    new_id: int,
    counts: dict[str, int],
) -> None:
    """Copy the folds (with their predictions) of `src`'s run `old_id` that run `new_id`
    of `c` lacks; count those it has as kept."""
    here = {r[0] for r in c.execute("SELECT fold FROM folds WHERE run_id=?", (new_id,))}
    for f in src.execute("SELECT * FROM folds WHERE run_id=? ORDER BY fold", (old_id,)).fetchall():
        if f[1] in here:
            counts["folds_kept"] += 1
            continue
        c.execute("INSERT INTO folds VALUES (?,?,?,?,?,?,?,?,?,?)", (new_id, *f[1:]))
        c.executemany(
            "INSERT INTO predictions VALUES (?,?,?,?,?,?)",
            (
                (new_id, *p[1:])
                for p in src.execute(
                    "SELECT * FROM predictions WHERE run_id=? AND fold=?", (old_id, f[1])
                )
            ),
        )
        counts["folds_added"] += 1
