"""Reading a corpus file into (ids, texts).

Accepted forms:

- ``.txt``: one text per line (empty lines skipped); the id is the 1-based line number;
- ``.csv`` / ``.tsv`` / ``.jsonl`` with an id column and a text column (auto-detected among
  common names, or named with ``id_column`` / ``text_column``); without an id column the id is
  the 1-based row number;
- a pairs file (columns such as ``question1``/``question2``, ``sentence1``/``sentence2``,
  ``text_a``/``text_b``, MRPC's ``#1 String``/``#2 String``, or the header-less GLUE QQP
  layout ``id qid1 qid2 question1 question2 is_duplicate``): its distinct texts, keyed by the
  source's text ids where it has them (``qid1``/``qid2``), else by `stable_text_id`.

A ``profile`` field (JSONL key, CSV/TSV column) groups rows: rows sharing a profile are one
query or candidate made of several documents (a reviewer's papers, a résumé and a cover
letter). A row without one (or a file without the field) is its own profile, named by its id.
With profiles, ids need only be distinct within a profile.

TSVs are read with ``csv.QUOTE_NONE`` (real QQP files carry stray double quotes). The
delimiter of a ``.csv`` is sniffed (STS-B's ``.csv`` files are tab-separated).
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairlm.data.pairs import stable_text_id
from pairlm.errors import CorpusError

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "doc_id", "docid", "qid", "text_id", "_id")
TEXT_COLUMNS = ("text", "question", "sentence", "document", "body", "content", "passage")
PROFILE_COLUMN = "profile"
PAIR_COLUMNS = (
    ("question1", "question2", "qid1", "qid2"),
    ("sentence1", "sentence2", None, None),
    ("text_a", "text_b", "id_a", "id_b"),
    ("#1 String", "#2 String", "#1 ID", "#2 ID"),
    ("text1", "text2", None, None),
)


Row = tuple[str, str, str | None]
"""(document id, text, profile or None)"""


@dataclass
class Corpus:
    """Parallel lists of document ids and texts, and the profile of each document when the
    file has a ``profile`` field (else None). Ids are distinct within a profile."""

    ids: list[str]
    texts: list[str]
    source: str = ""
    profiles: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def read_corpus(
    path: str | Path,
    *,
    id_column: str | None = None,
    text_column: str | None = None,
) -> Corpus:
    """Read a corpus file (see the module docstring); a repeated id (within a profile)
    keeps its first text."""
    p = Path(path)
    if not p.is_file():
        raise CorpusError(f"corpus file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".txt" and id_column is None and text_column is None:
        rows: Iterator[Row] = _read_txt(p)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _read_jsonl(p, id_column, text_column)
    elif suffix in (".csv", ".tsv", ".txt"):
        rows = _read_delimited(p, id_column, text_column)
    else:
        raise CorpusError(f"{p}: unknown corpus format {suffix!r}; use .txt, .csv, .tsv or .jsonl")
    ids: list[str] = []
    texts: list[str] = []
    profiles: list[str] = []
    grouped = False
    seen: set[tuple[str, str]] = set()
    for doc_id, text, profile in rows:
        key = (doc_id if profile is None else profile, doc_id)
        if key in seen:
            continue
        seen.add(key)
        ids.append(doc_id)
        texts.append(text)
        profiles.append(key[0])
        grouped = grouped or profile is not None
    if not ids:
        raise CorpusError(f"{p}: no texts found")
    log.info("read %d texts from %s", len(ids), p)
    return Corpus(ids, texts, str(p), profiles if grouped else None)


def _profile_value(p: Path, n: int, value: object) -> str | None:
    """A row's profile: None when absent or empty; numbers become strings."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise CorpusError(f"{p}:{n}: field {PROFILE_COLUMN!r} must be a string or a number")
    return value.strip() if isinstance(value, str) else str(value)


def _read_txt(p: Path) -> Iterator[Row]:
    with p.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            text = line.strip()
            if text:
                yield str(n), text, None


def json_objects(p: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of the JSONL file `p`; a line that is
    not a JSON object raises `error` naming the file and the line."""
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{p}:{n}: not valid JSON: {e}") from e
            if not isinstance(obj, dict):
                raise error(f"{p}:{n}: each line must be a JSON object")
            yield n, obj


def _read_jsonl(p: Path, id_column: str | None, text_column: str | None) -> Iterator[Row]:
    cols: tuple[str | None, str] | None = None
    pair_cols: tuple[str, str, str | None, str | None] | None = None
    for n, obj in json_objects(p, CorpusError):
        if cols is None and pair_cols is None:
            keys = list(obj)
            pair_cols = None if text_column else _find_pair_columns(keys)
            if pair_cols is None:
                cols = _find_columns(p, keys, id_column, text_column)
        if pair_cols is not None:
            yield from _pair_texts(p, n, [obj.get(c) if c else None for c in pair_cols])
            continue
        assert cols is not None
        text = obj.get(cols[1])
        if not isinstance(text, str):
            raise CorpusError(f"{p}:{n}: field {cols[1]!r} is missing or not a string")
        doc_id = str(obj[cols[0]]) if cols[0] and obj.get(cols[0]) is not None else str(n)
        pkey = next((k for k in obj if k.lower() == PROFILE_COLUMN), None)
        profile = _profile_value(p, n, obj[pkey]) if pkey is not None else None
        if text.strip():
            yield doc_id, text.strip(), profile


def _sniff_delimiter(p: Path) -> str:
    if p.suffix.lower() == ".tsv":
        return "\t"
    with p.open(encoding="utf-8-sig", errors="replace") as f:
        first = f.readline()
    return "\t" if "\t" in first else ","


def _looks_like_glue_qqp(row: list[str]) -> bool:
    return len(row) >= 5 and row[0].isdigit() and row[1].isdigit() and row[2].isdigit()


def _read_delimited(p: Path, id_column: str | None, text_column: str | None) -> Iterator[Row]:
    delim = _sniff_delimiter(p)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with p.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = (
            csv.reader(f, delimiter=delim, quoting=csv.QUOTE_NONE)
            if delim == "\t"
            else csv.reader(f, delimiter=delim)
        )
        try:
            header = next(reader)
        except StopIteration:
            return
        if id_column is None and text_column is None and _looks_like_glue_qqp(header):
            # header-less GLUE QQP: id qid1 qid2 question1 question2 is_duplicate
            for n, row in enumerate([header, *reader], start=1):
                if len(row) < 5:
                    log.warning("%s:%d: %d fields, skipped", p, n, len(row))
                    continue
                yield from _pair_texts(p, n, [row[3], row[4], row[1], row[2]])
            return
        header = [h.strip() for h in header]
        pair_cols = None if text_column else _find_pair_columns(header)
        if pair_cols is not None:
            idx = [header.index(c) if c else None for c in pair_cols]
            for n, row in enumerate(reader, start=2):
                vals = [row[i] if i is not None and i < len(row) else None for i in idx]
                yield from _pair_texts(p, n, vals)
            return
        cols = _find_columns(p, header, id_column, text_column)
        ti = header.index(cols[1])
        ii = header.index(cols[0]) if cols[0] else None
        pi = next((i for i, h in enumerate(header) if h.lower() == PROFILE_COLUMN), None)
        for n, row in enumerate(reader, start=2):
            if ti >= len(row):
                raise CorpusError(f"{p}:{n}: row has {len(row)} fields, no {cols[1]!r} column")
            text = row[ti].strip()
            profile = _profile_value(p, n, row[pi]) if pi is not None and pi < len(row) else None
            if text:
                yield (row[ii] if ii is not None and ii < len(row) else str(n - 1)), text, profile


def _find_pair_columns(keys: list[str]) -> tuple[str, str, str | None, str | None] | None:
    for a, b, ia, ib in PAIR_COLUMNS:
        if a in keys and b in keys:
            return a, b, (ia if ia in keys else None), (ib if ib in keys else None)
    return None


def _find_columns(
    p: Path, keys: list[str], id_column: str | None, text_column: str | None
) -> tuple[str | None, str]:
    lower = {k.lower(): k for k in keys}
    if text_column is None:
        text_column = next((lower[c] for c in TEXT_COLUMNS if c in lower), None)
        if text_column is None:
            raise CorpusError(
                f"{p}: no text column among {keys}; name it with --text-column "
                f"(looked for {', '.join(TEXT_COLUMNS)})"
            )
    elif text_column not in keys:
        raise CorpusError(f"{p}: text column {text_column!r} not found; columns: {keys}")
    if id_column is None:
        id_column = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    elif id_column not in keys:
        raise CorpusError(f"{p}: id column {id_column!r} not found; columns: {keys}")
    return id_column, text_column


def _pair_texts(p: Path, n: int, vals: Sequence[object]) -> Iterator[Row]:
    ta, tb, ia, ib = vals
    for text, tid in ((ta, ia), (tb, ib)):
        if not isinstance(text, str) or not text.strip():
            continue
        text = text.strip()
        yield (str(tid) if tid not in (None, "") else stable_text_id(text)), text, None
