"""A persistent corpus index: bi-encoder vectors in FAISS, texts and ids in SQLite.

Layout of an index directory::

    index.sqlite   the source of truth: docs(fid, doc_id, text, vec float32 blob) + meta
    vectors.faiss  FAISS inner-product index over L2-normalised vectors (a recoverable cache)

Design choices

- Exact search (``IndexFlatIP`` inside ``IndexIDMap2``) below ``IndexConfig.hnsw_threshold``
  documents, HNSW (``IndexHNSWFlat`` inside ``IndexIDMap2``) at or above it; an index that
  grows past the threshold is rebuilt as HNSW from the stored vectors (no re-embedding).
- Each document has an int64 FAISS id ``fid`` (SQLite ``AUTOINCREMENT``: never reused).
- Deletion: the flat index removes vectors at once. HNSW cannot remove, so a deleted
  document's vector stays in the FAISS file as a *tombstone*: the tombstone set is not stored
  but derived (FAISS ids that SQLite no longer has), filtered out of every search with an
  ``IDSelectorNot``; the HNSW graph is rebuilt from SQLite when tombstones exceed
  ``rebuild_tombstone_fraction`` of the FAISS vectors.
- Durability: ``add``/``delete`` commit to SQLite (WAL, ``synchronous=FULL``) before they
  return, so an acknowledged change survives a kill. The FAISS file is rewritten atomically
  (temp file + fsync + rename) after ``persist_every`` changes and on ``close()``. On open the
  FAISS index is reconciled with SQLite: vectors SQLite has but FAISS lacks are added from the
  stored float32 blobs (no re-embedding), FAISS ids SQLite lacks are dropped (flat) or become
  tombstones (HNSW).
- The encoder (path, name, `encoder_version`, dimension) is recorded in ``meta``; opening the
  index with a different encoder raises `EncoderMismatchError`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pairlm.configfile import check_fields, from_table, rule
from pairlm.errors import CorpusIndexError, EncoderMismatchError
from pairlm.models.encoders import (
    encode_unique,
    encoder_version,
    load_sentence_encoder,
    resolve_encoder,
)
from pairlm.progress import progress as progress_bar
from pairlm.progress import want_progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DB_FILE = "index.sqlite"
FAISS_FILE = "vectors.faiss"
FORMAT_VERSION = 1


def _at_least(n: int) -> dict[str, Any]:
    return rule(f"an integer >= {n}", lambda v: v >= n)


@dataclass
class IndexConfig:
    """Settings of a corpus index (stored in its meta table)."""

    table: ClassVar[str] = "index config"

    hnsw_threshold: int = field(default=50_000, metadata=_at_least(1))
    """Exact flat search below this many documents, HNSW at or above."""
    hnsw_m: int = field(default=32, metadata=_at_least(2))
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    persist_every: int = field(default=1000, metadata=_at_least(1))
    """Rewrite the FAISS file after this many changes (SQLite is durable on every change)."""
    rebuild_tombstone_fraction: float = field(
        default=0.2, metadata=rule("a number in (0, 1]", lambda v: 0.0 < v <= 1.0)
    )
    batch_size: int = 64
    """Encoder batch size."""

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexConfig:
        return from_table(cls, data, section=cls.table)


@dataclass
class Hit:
    """One search result."""

    doc_id: str
    text: str
    score: float
    """Cosine similarity of the query and the document embeddings."""
    probability: float | None = None
    """P(duplicate) from a reranker, when one was used."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _to_blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


class CorpusIndex:
    """A persistent, incrementally updatable embedding index over a corpus of texts.

    Use `CorpusIndex.build` to create one and `CorpusIndex.open` to reopen it. All methods
    are thread-safe (one lock; encoding runs outside it).
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        encoder: SentenceTransformer | None,
        meta: dict[str, Any],
    ) -> None:
        import faiss

        self._faiss = faiss
        self.path = path
        self._conn = conn
        self._encoder = encoder
        self.meta = meta
        self.config = IndexConfig.from_dict(meta["config"])
        self.dim = int(meta["dim"])
        self._lock = threading.RLock()
        self._index: Any = None
        self._tombstones: set[int] = set()
        self._dirty = 0

    # ------------------------------------------------------------------ create / open
    @classmethod
    def build(
        cls,
        path: str | Path,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        encoder: str | None = None,
        config: IndexConfig | None = None,
        embeddings: np.ndarray | None = None,
        overwrite: bool = False,
        show_progress: bool | None = None,
    ) -> CorpusIndex:
        """Create an index at `path` from parallel `ids` and `texts` (embedded here unless
        `embeddings`, normalised float32 rows from the same encoder, are given)."""
        p = Path(path)
        if (p / DB_FILE).exists():
            if not overwrite:
                raise FileExistsError(
                    f"{p} already holds an index; use --overwrite (Python: overwrite=True)"
                )
            for f in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm", FAISS_FILE):
                (p / f).unlink(missing_ok=True)
        p.mkdir(parents=True, exist_ok=True)
        idx = cls.create(p, encoder=encoder, config=config)
        idx.add(ids, texts, embeddings=embeddings, show_progress=show_progress, persist=False)
        idx.save()
        return idx

    @classmethod
    def create(
        cls, path: str | Path, *, encoder: str | None = None, config: IndexConfig | None = None
    ) -> CorpusIndex:
        """Create an empty index at `path`."""
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        if (p / DB_FILE).exists():
            raise FileExistsError(f"{p} already holds an index")
        resolved = resolve_encoder(encoder)
        enc = load_sentence_encoder(encoder)
        dim = _dim(enc)
        cfg = config or IndexConfig()
        meta = {
            "format_version": FORMAT_VERSION,
            "encoder_name": encoder or "all-MiniLM-L6-v2",
            "encoder_path": resolved,
            "encoder_version": encoder_version(encoder),
            "dim": dim,
            "config": dataclasses.asdict(cfg),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        conn = _connect(p / DB_FILE)
        with conn:
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in meta.items()],
            )
        idx = cls(p, conn, enc, meta)
        idx._index = idx._new_faiss(0)
        return idx

    @staticmethod
    def inspect(path: str | Path) -> dict[str, Any]:
        """The recorded settings of the index at `path`, read without loading it or changing
        a byte: FileNotFoundError when it is no index, CorpusIndexError when unreadable or of
        an unsupported format."""
        p = Path(path)
        if not p.is_dir():
            raise FileNotFoundError(f"{p}: no such directory (expected a pairlm index)")
        if not (p / DB_FILE).is_file():
            raise FileNotFoundError(f"{p} is not a pairlm index (no {DB_FILE})")
        try:
            conn = sqlite3.connect(f"file:{p / DB_FILE}?mode=ro", uri=True)
            try:
                meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            finally:
                conn.close()
        except (sqlite3.Error, ValueError) as e:
            raise CorpusIndexError(f"{p / DB_FILE}: not a readable pairlm index: {e}") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise CorpusIndexError(
                f"{p}: index format {meta.get('format_version')} is not supported"
            )
        return meta

    @classmethod
    def open(
        cls, path: str | Path, *, encoder: str | None = None, load_encoder: bool = True
    ) -> CorpusIndex:
        """Reopen an index (no re-embedding); reconcile its FAISS file with SQLite.

        `encoder`: the encoder the caller means to query with; raises `EncoderMismatchError`
        when it is not the one the index was built with. By default the recorded one is used.
        """
        p = Path(path)
        if not (p / DB_FILE).is_file():
            raise FileNotFoundError(f"{p} is not a pairlm index (no {DB_FILE})")
        conn = _connect(p / DB_FILE)
        meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        if meta.get("format_version") != FORMAT_VERSION:
            raise CorpusIndexError(
                f"{p}: index format {meta.get('format_version')} is not supported"
            )
        recorded_version = meta["encoder_version"]
        if encoder is not None:
            wanted = encoder_version(encoder)
            if wanted != recorded_version:
                raise EncoderMismatchError(
                    f"{p} was built with encoder {meta['encoder_name']!r} "
                    f"(version {recorded_version}); {encoder!r} is version {wanted}. "
                    "Query it with the same encoder, or build a new index."
                )
        enc_arg = encoder if encoder is not None else meta["encoder_path"]
        if encoder is None and not Path(enc_arg).exists():
            # the packaged encoder may live elsewhere on this machine: fall back to the name
            enc_arg = meta["encoder_name"]
        enc = None
        if load_encoder:
            if encoder_version(enc_arg) != recorded_version:
                raise EncoderMismatchError(
                    f"{p} was built with encoder version {recorded_version} but "
                    f"{enc_arg!r} is now version {encoder_version(enc_arg)}"
                )
            enc = load_sentence_encoder(enc_arg)
            got = _dim(enc)
            if got != int(meta["dim"]):
                raise EncoderMismatchError(
                    f"{p} holds {meta['dim']}-d vectors but encoder {enc_arg!r} gives {got}-d"
                )
        idx = cls(p, conn, enc, meta)
        idx._load_and_reconcile()
        return idx

    # ------------------------------------------------------------------ FAISS helpers
    def _new_faiss(self, n: int) -> Any:
        faiss = self._faiss
        if n >= self.config.hnsw_threshold:
            inner = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.config.hnsw_ef_construction
            inner.hnsw.efSearch = self.config.hnsw_ef_search
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    @property
    def index_type(self) -> str:
        inner = self._faiss.downcast_index(self._index.index)
        return "hnsw" if isinstance(inner, self._faiss.IndexHNSWFlat) else "flat"

    def _faiss_ids(self) -> np.ndarray:
        return self._faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def _sql_fids(self) -> np.ndarray:
        rows = self._conn.execute("SELECT fid FROM docs").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vectors_for(self, fids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(fids, vectors) from SQLite: all documents, or those in `fids`."""
        out_f: list[int] = []
        out_v: list[bytes] = []
        if fids is None:
            for fid, blob in self._conn.execute("SELECT fid, vec FROM docs ORDER BY fid"):
                out_f.append(fid)
                out_v.append(blob)
        else:
            fl = [int(f) for f in fids]
            for i in range(0, len(fl), 900):
                chunk = fl[i : i + 900]
                q = f"SELECT fid, vec FROM docs WHERE fid IN ({','.join('?' * len(chunk))})"
                for fid, blob in self._conn.execute(q, chunk):
                    out_f.append(fid)
                    out_v.append(blob)
        vecs = np.frombuffer(b"".join(out_v), dtype="<f4").reshape(-1, self.dim)
        return np.asarray(out_f, dtype=np.int64), np.ascontiguousarray(vecs, dtype=np.float32)

    def _add_to_faiss(self, fids: np.ndarray, vecs: np.ndarray, progress: bool = False) -> None:
        if len(fids) == 0:
            return
        step = 10_000
        it: Iterator[int] = iter(range(0, len(fids), step))
        if progress and len(fids) > step:
            it = iter(progress_bar(range(0, len(fids), step), desc="indexing", unit="chunk"))
        for i in it:
            self._index.add_with_ids(vecs[i : i + step], fids[i : i + step])

    def _rebuild(self, progress: bool = False) -> None:
        fids, vecs = self._vectors_for(None)
        self._index = self._new_faiss(len(fids))
        self._add_to_faiss(fids, vecs, progress)
        self._tombstones = set()
        log.info("rebuilt %s index over %d vectors", self.index_type, len(fids))

    def _load_and_reconcile(self) -> None:
        faiss_path = self.path / FAISS_FILE
        sql = self._sql_fids()
        if not faiss_path.is_file():
            log.warning("%s missing: rebuilding from the vectors stored in SQLite", faiss_path)
            self._rebuild()
            self.save()
            return
        self._index = self._faiss.read_index(str(faiss_path))
        have = self._faiss_ids()
        missing = np.setdiff1d(sql, have, assume_unique=True)
        extra = np.setdiff1d(have, sql, assume_unique=True)
        changed = False
        if len(missing):
            log.info("reconcile: adding %d vectors missing from %s", len(missing), FAISS_FILE)
            f, v = self._vectors_for(missing)
            self._add_to_faiss(f, v)
            changed = True
        if len(extra):
            if self.index_type == "flat":
                self._index.remove_ids(extra)
            else:
                self._tombstones = set(extra.tolist())
            changed = True
        wanted_type = "hnsw" if len(sql) >= self.config.hnsw_threshold else "flat"
        if (wanted_type == "hnsw" and self.index_type == "flat") or self._too_many_tombstones():
            self._rebuild()
            changed = True
        if changed:
            self.save()
        self._check_consistent()

    def _too_many_tombstones(self) -> bool:
        n = self._index.ntotal
        return bool(self._tombstones) and len(
            self._tombstones
        ) > self.config.rebuild_tombstone_fraction * max(n, 1)

    def _check_consistent(self) -> None:
        live = self._index.ntotal - len(self._tombstones)
        count = len(self)
        if live != count:
            raise CorpusIndexError(
                f"{self.path}: FAISS holds {live} live vectors but SQLite {count}"
            )

    # ------------------------------------------------------------------ encoding
    @property
    def encoder(self) -> SentenceTransformer:
        if self._encoder is None:
            self._encoder = load_sentence_encoder(self.meta["encoder_path"])
        return self._encoder

    def encode(self, texts: Sequence[str], show_progress: bool | None = None) -> np.ndarray:
        """Normalised float32 embeddings of `texts` with the index's encoder."""
        if len(texts) == 1:  # skip the sort/copy bookkeeping for the common single query
            v = self.encoder.encode(
                list(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.ascontiguousarray(v, dtype=np.float32)
        return encode_unique(
            self.encoder,
            list(texts),
            batch_size=self.config.batch_size,
            show_progress=show_progress,
        )

    # ------------------------------------------------------------------ changes
    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        embeddings: np.ndarray | None = None,
        show_progress: bool | None = None,
        persist: bool = True,
    ) -> int:
        """Add (or replace, for an existing id) documents; durable in SQLite on return.

        Returns the number of documents written.
        """
        ids = [str(i) for i in ids]
        texts = list(texts)
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"document {ids[i]!r}: text must be a non-empty string")
        last = {d: i for i, d in enumerate(ids)}  # a repeated id keeps its last text
        keep = sorted(last.values())
        ids = [ids[i] for i in keep]
        texts = [texts[i] for i in keep]
        if not ids:
            return 0
        if embeddings is None:
            embeddings = self.encode(texts, show_progress=show_progress)
        else:
            embeddings = np.asarray(embeddings, dtype=np.float32)[keep]
        if embeddings.shape != (len(ids), self.dim):
            raise ValueError(
                f"embeddings have shape {embeddings.shape}, expected ({len(ids)}, {self.dim})"
            )
        with self._lock:
            old: list[int] = []
            new: list[int] = []
            with self._conn:  # one transaction, committed (fsync'd) before returning
                for s in range(0, len(ids), 900):
                    chunk = ids[s : s + 900]
                    q = f"DELETE FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))}) RETURNING fid"
                    old.extend(r[0] for r in self._conn.execute(q, chunk).fetchall())
                for d, t, v in zip(ids, texts, embeddings):
                    cur = self._conn.execute(
                        "INSERT INTO docs(doc_id, text, vec) VALUES (?, ?, ?)", (d, t, _to_blob(v))
                    )
                    new.append(int(cur.lastrowid or 0))
            self._drop_from_faiss(np.asarray(old, dtype=np.int64))
            count = len(self)
            if self.index_type == "flat" and count >= self.config.hnsw_threshold:
                self._rebuild(progress=want_progress(show_progress))
                self._dirty = self.config.persist_every
            else:
                self._add_to_faiss(
                    np.asarray(new, dtype=np.int64), embeddings, want_progress(show_progress)
                )
                self._dirty += len(ids) + len(old)
            self._after_change(persist)
        return len(ids)

    def delete(self, ids: Sequence[str], *, persist: bool = True) -> int:
        """Delete documents by id; returns how many existed. Durable in SQLite on return."""
        ids = [str(i) for i in ids]
        with self._lock:
            gone: list[int] = []
            with self._conn:
                for s in range(0, len(ids), 900):
                    chunk = ids[s : s + 900]
                    q = f"DELETE FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))}) RETURNING fid"
                    gone.extend(r[0] for r in self._conn.execute(q, chunk).fetchall())
            self._drop_from_faiss(np.asarray(gone, dtype=np.int64))
            self._dirty += len(gone)
            self._after_change(persist)
        return len(gone)

    def _drop_from_faiss(self, fids: np.ndarray) -> None:
        if len(fids) == 0:
            return
        if self.index_type == "flat":
            self._index.remove_ids(fids)
        else:
            self._tombstones.update(fids.tolist())

    def _after_change(self, persist: bool) -> None:
        if self._too_many_tombstones():
            self._rebuild()
            self._dirty = self.config.persist_every
        if persist and self._dirty >= self.config.persist_every:
            self.save()

    def save(self) -> None:
        """Write the FAISS file atomically (temp file, fsync, rename)."""
        with self._lock:
            target = self.path / FAISS_FILE
            tmp = self.path / (FAISS_FILE + ".tmp")
            self._faiss.write_index(self._index, str(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
            dfd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            self._dirty = 0

    def close(self) -> None:
        """Persist the FAISS file and close SQLite."""
        with self._lock:
            if self._conn is None:
                return
            if self._dirty:
                self.save()
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> CorpusIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def __contains__(self, doc_id: object) -> bool:
        return bool(self.get([str(doc_id)]))

    def get(self, ids: Sequence[str]) -> dict[str, str]:
        """Texts of the given ids that exist."""
        out: dict[str, str] = {}
        with self._lock:
            for s in range(0, len(ids), 900):
                chunk = [str(i) for i in ids[s : s + 900]]
                q = f"SELECT doc_id, text FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))})"
                out.update(self._conn.execute(q, chunk).fetchall())
        return out

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored (normalised float32) vectors of the given ids that exist."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for s in range(0, len(ids), 900):
                chunk = [str(i) for i in ids[s : s + 900]]
                q = f"SELECT doc_id, vec FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))})"
                for d, blob in self._conn.execute(q, chunk):
                    out[d] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return out

    def iter_documents(
        self, batch: int = 10_000
    ) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
        """All documents as (ids, texts, vectors) batches, in fid order."""
        last = -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT fid, doc_id, text, vec FROM docs WHERE fid > ? ORDER BY fid LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            vecs = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(-1, self.dim)
            yield [r[1] for r in rows], [r[2] for r in rows], vecs.astype(np.float32)

    def search(self, queries: str | Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-`k` documents by cosine similarity for each query text."""
        qs = [queries] if isinstance(queries, str) else list(queries)
        if not qs:
            return []
        return self.search_vectors(self.encode(qs), k)

    def search_vectors(self, vectors: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """Top-`k` documents for each (normalised) query vector."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        faiss = self._faiss
        with self._lock:
            if self._index.ntotal == 0:
                return [[] for _ in range(len(vectors))]
            params = None
            keep_alive: list[Any] = []
            if self.index_type == "hnsw":
                ef = max(self.config.hnsw_ef_search, k)
                if self._tombstones:
                    batch = faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64))
                    sel = faiss.IDSelectorNot(batch)
                    keep_alive += [batch, sel]
                    params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
                else:
                    params = faiss.SearchParametersHNSW(efSearch=ef)
            kk = min(k, self._index.ntotal)
            scores, fids = self._index.search(vectors, kk, params=params)
            wanted = sorted({int(f) for f in fids.ravel() if f >= 0})
            docs: dict[int, tuple[str, str]] = {}
            for s in range(0, len(wanted), 900):
                chunk = wanted[s : s + 900]
                q = f"SELECT fid, doc_id, text FROM docs WHERE fid IN ({','.join('?' * len(chunk))})"
                for fid, d, t in self._conn.execute(q, chunk):
                    docs[fid] = (d, t)
            del keep_alive
        out: list[list[Hit]] = []
        for srow, frow in zip(scores, fids):
            hits = []
            for s, f in zip(srow, frow):
                doc = docs.get(int(f))
                if f >= 0 and doc is not None:
                    hits.append(Hit(doc[0], doc[1], float(s)))
            out.append(hits)
        return out

    def info(self) -> dict[str, Any]:
        """What the index holds: counts, type, encoder, sizes on disk."""
        with self._lock:
            files = [self.path / f for f in (DB_FILE, DB_FILE + "-wal", FAISS_FILE)]
            return {
                "path": str(self.path),
                "documents": len(self),
                "faiss_vectors": int(self._index.ntotal),
                "tombstones": len(self._tombstones),
                "index_type": self.index_type,
                "dim": self.dim,
                "encoder_name": self.meta["encoder_name"],
                "encoder_path": self.meta["encoder_path"],
                "encoder_version": self.meta["encoder_version"],
                "bytes_on_disk": sum(f.stat().st_size for f in files if f.exists()),
                "config": dataclasses.asdict(self.config),
            }

    def check(self) -> dict[str, Any]:
        """Consistency check: FAISS live ids == SQLite ids."""
        with self._lock:
            have = set(self._faiss_ids().tolist()) - self._tombstones
            sql = set(self._sql_fids().tolist())
            return {
                "faiss_live": len(have),
                "sqlite": len(sql),
                "consistent": have == sql,
            }


def _dim(enc: Any) -> int:
    fn = getattr(enc, "get_embedding_dimension", None) or enc.get_sentence_embedding_dimension
    return int(fn() or 0)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level="DEFERRED")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS docs(fid INTEGER PRIMARY KEY AUTOINCREMENT, "
        "doc_id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, vec BLOB NOT NULL)"
    )
    conn.commit()
    return conn
