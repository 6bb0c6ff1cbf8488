"""Readers for pair data: QQP (original Quora release, GLUE, the shared subsets), MRPC, STS-B,
and generic CSV / TSV / JSONL / Parquet files with a column mapping.

Every load goes through one row pipeline that validates each row and fills a
`ValidationReport`: rows read, kept, repaired and dropped by reason, with 1-based
line numbers in the source file. Nothing is dropped silently: dropped rows are
written to a JSONL side file whose location the report names.

Quoting. The QQP files (original release, GLUE, BiMPM) write a text that contains a
double quote as a CSV-quoted field (``"What is ""X""?"``), while MRPC and STS-B contain
raw stray quotes. Lines are therefore split on tabs with no quote processing
(`csv.QUOTE_NONE` semantics), and for the QQP family and generic TSV a field that is a
well-formed quoted field as a whole is unquoted afterwards. A field that merely starts
with a quote is kept as is. A quoted field holding a newline (11 rows of the original
Quora release) is joined with the following lines only when the joined text parses to
exactly the expected number of fields.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import MISSING_LABEL, PairDataset, normalize_text
from pairlm.data.validation import (
    BAD_LABEL,
    DUPLICATE_PAIR,
    EMPTY_TEXT,
    MALFORMED_LINE,
    REPAIR_BOM,
    REPAIR_DUPLICATE_PAIR_ID,
    REPAIR_EMBEDDED_NEWLINE,
    REPAIR_EXTRA_COLUMNS,
    REPAIR_LABEL_IGNORED,
    REPAIR_UNDECODABLE,
    SELF_PAIR,
    UNDECODABLE_BYTES,
    DataError,
    Policy,
    ValidationReport,
)
from pairlm.paths import cache_root

logger = logging.getLogger(__name__)

__all__ = [
    "KNOWN_FORMATS",
    "detect_format",
    "dropped_dir",
    "read_glue_dir",
    "read_pairs",
]

KNOWN_FORMATS: tuple[str, ...] = (
    "quora",
    "glue-qqp",
    "glue-qqp-test",
    "glue-qqp-headerless",
    "bimpm",
    "mrpc",
    "stsb",
    "csv",
    "tsv",
    "jsonl",
    "parquet",
)
"""Formats `detect_format` can return and `read_pairs` accepts as ``fmt``."""

_FORMAT_HELP = (
    "quora (original Quora release, header id qid1 qid2 question1 question2 is_duplicate), "
    "glue-qqp (GLUE QQP train/dev .tsv), glue-qqp-test (header id question1 question2), "
    "glue-qqp-headerless (the same 6 columns without a header), bimpm (label q1 q2 pair_id, "
    "no header), mrpc (header Quality #1 ID #2 ID #1 String #2 String), stsb (STS Benchmark: "
    "genre file year id score sentence1 sentence2, no header), csv, tsv, jsonl, parquet"
)

MAX_RECORD_LINES = 10
"""A quoted field may span at most this many physical lines before the opening line is
treated as malformed instead."""

_SNIFF_BYTES = 1 << 20
# Long texts are data, not errors: let the csv module read fields of any size (its default
# limit, 128 KiB, turns a long field into a traceback).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_FIRST_LINE_MAX = 1 << 28  # format detection reads a first line up to this long whole
_QQP_HEADER = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")
_QQP_TEST_HEADER = ("id", "question1", "question2")
_MRPC_HEADER = ("quality", "#1 id", "#2 id", "#1 string", "#2 string")
_MRPC_TEST_HEADER = ("index", "#1 id", "#2 id", "#1 string", "#2 string")
_SURROGATE = re.compile("[\udc80-\udcff]")
_DIGITS = re.compile(r"\d+\Z")
_LABELS = {"0": 0, "1": 1}

# Header names understood for the generic formats, by canonical column.
_ALIASES: dict[str, tuple[str, ...]] = {
    "text_a": ("text_a", "question1", "sentence1", "text1", "s1", "#1 string", "q1", "string1"),
    "text_b": ("text_b", "question2", "sentence2", "text2", "s2", "#2 string", "q2", "string2"),
    "label": ("label", "is_duplicate", "quality", "is_paraphrase", "duplicate", "match", "y"),
    "pair_id": ("pair_id", "id", "index", "pairid", "idx"),
    "id_a": ("id_a", "qid1", "#1 id", "id1"),
    "id_b": ("id_b", "qid2", "#2 id", "id2"),
}
_CANONICAL = tuple(_ALIASES)


# ====================================================================== small helpers
def dropped_dir() -> Path:
    """Where ``side_file="auto"`` writes dropped rows: ``$PAIRLM_CACHE_DIR/dropped`` or
    ``~/.cache/pairlm/dropped`` (sources such as ``/work/shared/data`` may be read-only)."""
    return cache_root() / "dropped"


def _auto_side_file(path: Path) -> Path:
    tag = hashlib.sha1(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return dropped_dir() / f"{path.name}.{tag}.dropped.jsonl"


def _printable(s: str) -> str:
    """Undecodable bytes (held as surrogate escapes) shown as ``\\xNN``."""
    if _SURROGATE.search(s):
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return s


def _bad_bytes(s: str) -> str:
    found = _SURROGATE.findall(s)
    shown = "".join(f"\\x{ord(c) - 0xDC00:02x}" for c in found[:8])
    return f"{len(found)} byte(s) not valid UTF-8 ({shown}{'...' if len(found) > 8 else ''})"


def _unquote(field: str) -> str:
    """Undo CSV quoting of a field that is a well-formed quoted field as a whole."""
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
        inner = field[1:-1]
        if '"' not in inner.replace('""', ""):
            return inner.replace('""', '"')
    return field


def _csv_fields(record: str) -> list[str] | None:
    """Parse one record with CSV quoting (tab-delimited); None unless it is exactly one row."""
    try:
        rows = list(csv.reader([record], delimiter="\t", quotechar='"', strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _norm_fast(text: str) -> str:
    """`normalize_text`, with a fast path for ASCII (where NFKC is the identity)."""
    if text.isascii():
        return " ".join(text.split()).lower()
    return normalize_text(text)


def _id_from_norm(norm: str) -> str:
    # Same formula as pairs.stable_text_id (a test checks they agree).
    return "h" + hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def _parse_label(value: Any) -> int | None:
    if isinstance(value, str):
        v = _LABELS.get(value)
        if v is not None:
            return v
        s = value.strip()
        v = _LABELS.get(s)
        if v is not None:
            return v
        try:
            f = float(s)
        except ValueError:
            return None
        return int(f) if f in (0.0, 1.0) else None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value) if value in (0, 1) else None
    if isinstance(value, (float, np.floating)):
        return int(value) if value in (0.0, 1.0) else None
    return None


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(
            f"{path}: is a directory; for a GLUE directory use `pairlm glue --glue-dir {path}` "
            f"(Python: read_glue_dir)"
        )
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e


def _check_binary(path: Path, head: bytes) -> None:
    if head.startswith((b"\x1f\x8b", b"PK\x03\x04", b"BZh", b"\xfd7zXZ")):
        raise DataError(f"{path}: a compressed archive, not a text file; extract it first")
    if b"\x00" in head[:8192]:
        raise DataError(
            f"{path}: binary file (NUL bytes in the first 8 KB); known formats: {_FORMAT_HELP}"
        )


def _undecodable_line(line: str, lineno: int, report: ValidationReport, drop: bool) -> str | None:
    """A line holding undecodable bytes: dropped (counted, None) or repaired with U+FFFD."""
    if drop:
        report.rows_read += 1
        report.drop(lineno, UNDECODABLE_BYTES, _bad_bytes(line), _printable(line))
        return None
    report.repair(lineno, REPAIR_UNDECODABLE, _bad_bytes(line))
    return _SURROGATE.sub("\ufffd", line)


def _decode(path: Path, data: bytes) -> tuple[str, bool, bool]:
    """Text, whether it holds undecodable bytes (as surrogate escapes), whether a BOM was removed."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), False, True
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: UTF-16 BOM but undecodable content: {e}") from e
    _check_binary(path, data[:8192])
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), False, bom
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True, bom


def _split_lines(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _header_key(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(_unquote(f.strip()).strip().lower() for f in fields)


# ====================================================================== detection
def detect_format(path: str | Path) -> str:
    """Tell the format of a pair file from its content (the extension only breaks ties).

    Returns one of `KNOWN_FORMATS`. Raises `DataError` naming the file when it cannot tell
    (empty file, binary file, unknown header), listing the formats it knows.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(
            f"{p}: is a directory; for a GLUE directory use `pairlm glue --glue-dir {p}` "
            f"(Python: read_glue_dir)"
        )
    with p.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        if b"\n" not in head and len(head) == _SNIFF_BYTES:
            head += fh.readline(_FIRST_LINE_MAX)  # never judge a cut first line
        truncated = bool(fh.read(1))
    if not head.strip():
        raise DataError(f"{p}: empty file; known formats: {_FORMAT_HELP}")
    if head.startswith(b"PAR1"):
        return "parquet"
    text, _, _ = _decode(p, head)
    lines = _split_lines(text)
    if truncated and len(lines) > 1:
        lines.pop()  # a partial last line
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise DataError(f"{p}: empty file; known formats: {_FORMAT_HELP}")
    first = lines[0].strip()
    suffix = p.suffix.lower()

    if first.startswith("{"):
        try:
            if isinstance(json.loads(first), dict):
                return "jsonl"
        except ValueError:
            pass
    if first.startswith("[") and suffix == ".json":
        raise DataError(f"{p}: a JSON array; pairlm reads JSON Lines (one object per line)")

    header = _header_key(lines[0].split("\t"))
    if header == _QQP_HEADER:
        return _quora_or_glue(p, lines)
    if header == _QQP_TEST_HEADER:
        return "glue-qqp-test"
    if header in (_MRPC_HEADER, _MRPC_TEST_HEADER):
        return "mrpc"

    votes = {"glue-qqp-headerless": 0, "bimpm": 0, "stsb": 0}
    sample = lines[:500]
    for ln in sample:
        f = ln.split("\t")
        n = len(f)
        if n == 6 and f[5] in _LABELS and all(_DIGITS.match(x) for x in f[:3]):
            votes["glue-qqp-headerless"] += 1
        elif n == 4 and f[0] in _LABELS and _DIGITS.match(f[3]):
            votes["bimpm"] += 1
        elif n >= 7 and _DIGITS.match(f[3].strip()) and _is_float(f[4]):
            votes["stsb"] += 1
    best = max(votes, key=lambda k: votes[k])
    misses = len(sample) - votes[best]
    if votes[best] > misses and misses <= max(2, len(sample) // 5):
        return best

    if "\t" in lines[0] and suffix in (".tsv", ".txt", ".tab", ""):
        return "tsv"
    if suffix == ".csv":
        return "tsv" if "\t" in lines[0] and "," not in lines[0] else "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".jsonl", ".ndjson"):
        raise DataError(f"{p}: line 1 is not a JSON object")
    # No extension hint: accept a delimited header whose columns we recognise.
    for fmt, delim in (("tsv", "\t"), ("csv", ",")):
        cols = _header_key(next(csv.reader([lines[0]], delimiter=delim)))
        if _resolve_columns(list(cols), None, p, required=False).keys() >= {"text_a", "text_b"}:
            return fmt
    raise DataError(
        f"{p}: cannot tell the format: line 1 ({lines[0][:120]!r}) is not a header pairlm "
        f"knows and the rows match no known layout. Known formats: {_FORMAT_HELP}. "
        "Give the format (--format FMT, or fmt=) and for csv/tsv/jsonl/parquet the columns "
        "(--columns text_a=COL,text_b=COL[,label=COL], or columns=)."
    )


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _quora_or_glue(path: Path, lines: list[str]) -> str:
    """Both have the same header; the original release quotes its header or has quoted
    fields spanning lines, and is usually named quora_duplicate_questions.tsv."""
    if lines[0].startswith('"') or "quora" in path.name.lower():
        return "quora"
    for i, ln in enumerate(lines[1:], start=1):
        if ln.count('"') % 2 and _join_record(lines, i, 6) is not None:
            return "quora"
    return "glue-qqp"


def _join_record(lines: list[str], i: int, nfields: int) -> tuple[int, list[str]] | None:
    """Join line i with the following lines until its quotes balance; the last line index
    and the fields when that parses to exactly `nfields` fields, else None."""
    parity = lines[i].count('"') % 2
    j = i
    while parity and j + 1 < len(lines) and j - i + 1 < MAX_RECORD_LINES:
        j += 1
        parity ^= lines[j].count('"') % 2
    if parity or j == i:
        return None
    fields = _csv_fields("\n".join(lines[i : j + 1]))
    if fields is None or len(fields) != nfields:
        return None
    return j, fields


# ====================================================================== the row pipeline
class _Collector:
    """Validates rows one at a time and accumulates the kept ones."""

    def __init__(
        self,
        report: ValidationReport,
        *,
        labelled: bool,
        drop_self_pairs: bool,
        drop_duplicates: bool,
        keep_bad_labels: bool = False,
        label_fn: Callable[[Any], int | None] = _parse_label,
    ) -> None:
        self.report = report
        self.labelled = labelled
        self.drop_self_pairs = drop_self_pairs
        self.drop_duplicates = drop_duplicates
        self.keep_bad_labels = keep_bad_labels
        self.lines: list[int] = []
        self.label_fn = label_fn
        self.pid: list[str] = []
        self.a: list[str] = []
        self.b: list[str] = []
        self.y: list[int] = []
        self.ia: list[str | None] = []
        self.ib: list[str | None] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._pids: dict[str, int] = {}
        self._norm: dict[str, str] = {}

    def norm(self, text: str) -> str:
        n = self._norm.get(text)
        if n is None:
            n = self._norm[text] = _norm_fast(text)
        return n

    def add(
        self,
        line: int,
        pid: str | None,
        a: Any,
        b: Any,
        label: Any,
        ida: str | None,
        idb: str | None,
        raw: str,
    ) -> None:
        rep = self.report
        rep.rows_read += 1
        if a.__class__ is not str or b.__class__ is not str:
            for side, t in (("text_a", a), ("text_b", b)):
                if (
                    t is not None
                    and not isinstance(t, str)
                    and not (isinstance(t, float) and math.isnan(t))
                ):
                    rep.drop(line, MALFORMED_LINE, f"{side} is {type(t).__name__}, not text", raw)
                    return
            a = a if isinstance(a, str) else ""
            b = b if isinstance(b, str) else ""
        if not a or a.isspace() or not b or b.isspace():
            side = "text_a" if not a or a.isspace() else "text_b"
            rep.drop(line, EMPTY_TEXT, f"{side} is empty or missing", raw)
            return
        if self.labelled:
            y = _LABELS.get(label) if label.__class__ is str else None
            if y is None:
                y = self.label_fn(label)
                if y is None:
                    if not self.keep_bad_labels:
                        rep.drop(line, BAD_LABEL, f"label {label!r} is not 0 or 1", raw)
                        return
                    # Scoring needs no label: the row is scored, its label left unknown.
                    rep.repair(line, REPAIR_LABEL_IGNORED, f"label {label!r} is not 0 or 1")
                    y = MISSING_LABEL
        else:
            y = MISSING_LABEL
        if self.drop_self_pairs:
            if ida is not None and ida == idb:
                rep.drop(line, SELF_PAIR, f"both texts have id {ida!r}", raw)
                return
            if a.isascii() and b.isascii():
                # NFKC is the identity on ASCII: compare case-folded words directly.
                same = a.lower().split() == b.lower().split()
            else:
                same = self.norm(a) == self.norm(b)
            if same:
                rep.drop(line, SELF_PAIR, "both texts are the same after normalisation", raw)
                return
        if self.drop_duplicates:
            prev = self._seen.setdefault((a, b) if a <= b else (b, a), line)
            if prev != line:
                rep.drop(line, DUPLICATE_PAIR, f"same two texts as line {prev}", raw)
                return
        if pid is None:
            pid = str(line)
        prev = self._pids.setdefault(pid, line)
        if prev != line:
            new = f"{pid}@{line}"
            rep.repair(
                line,
                REPAIR_DUPLICATE_PAIR_ID,
                f"pair id {pid!r} already used on line {prev}; renamed {new!r}",
            )
            pid = new
            self._pids[pid] = line
        self.lines.append(line)
        self.pid.append(pid)
        self.a.append(a)
        self.b.append(b)
        self.y.append(y)
        self.ia.append(ida)
        self.ib.append(idb)

    def _ids(self, ids: list[str | None], texts: list[str]) -> list[str | None]:
        if None not in ids:
            return ids
        return [x if x is not None else _id_from_norm(self.norm(t)) for x, t in zip(ids, texts)]

    def build(self, name: str) -> PairDataset:
        n = len(self.pid)
        self.report.rows_kept = n
        self.report.kept_lines = list(self.lines)

        def col(values: Sequence[Any]) -> np.ndarray:
            arr = np.empty(n, dtype=object)
            arr[:] = values
            return arr

        ia = self._ids(self.ia, self.a)
        ib = self._ids(self.ib, self.b)
        return PairDataset(
            col(self.pid),
            col(self.a),
            col(self.b),
            np.asarray(self.y, dtype=np.int8),
            col(ia),
            col(ib),
            name,
            self.report,
        )


# ---------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class _Layout:
    """Where each column sits in a delimited row (None: absent)."""

    nfields: int
    text_a: int
    text_b: int
    label: int | None = None
    pair_id: int | None = None
    id_a: int | None = None
    id_b: int | None = None
    at_least: bool = False  # more fields allowed (ignored, counted as a repair)


_FIXED: dict[str, tuple[_Layout, bool, bool, bool]] = {
    # fmt: (layout, has header, unquote fields, allow quoted fields spanning lines)
    "quora": (_Layout(6, 3, 4, 5, 0, 1, 2), True, True, True),
    "glue-qqp": (_Layout(6, 3, 4, 5, 0, 1, 2), True, True, True),
    "glue-qqp-test": (_Layout(3, 1, 2, None, 0), True, True, True),
    "glue-qqp-headerless": (_Layout(6, 3, 4, 5, 0, 1, 2), False, True, True),
    "bimpm": (_Layout(4, 1, 2, 0, 3), False, True, True),
    "mrpc": (_Layout(5, 3, 4, 0, None, 1, 2), True, False, False),
    "stsb": (_Layout(7, 5, 6, 4, None, at_least=True), False, False, False),
}


def _resolve_columns(
    header: list[str], columns: dict[str, str] | None, path: Path, *, required: bool = True
) -> dict[str, int]:
    """Canonical column -> index in `header`, from `columns` or the known aliases."""
    lower = [h.strip().lower() for h in header]
    out: dict[str, int] = {}
    columns = dict(columns or {})
    _check_column_fields(columns)
    for canon, src in columns.items():
        if src in header:
            out[canon] = header.index(src)
        elif src.strip().lower() in lower:
            out[canon] = lower.index(src.strip().lower())
        elif required:
            raise DataError(
                f"{path}: column {src!r} (given for {canon}) is not in the header {header}"
            )
    for canon, names in _ALIASES.items():
        if canon in out:
            continue
        for nm in names:
            if nm in lower and lower.index(nm) not in out.values():
                out[canon] = lower.index(nm)
                break
    if required:
        missing = [c for c in ("text_a", "text_b") if c not in out]
        if missing:
            raise DataError(
                f"{path}: no column for {' and '.join(missing)} in the header {header}; "
                f"name them with --columns text_a=COL,text_b=COL (Python: columns={{...}}) "
                f"(known names for text_a: "
                f"{', '.join(_ALIASES['text_a'])})"
            )
    return out


def _layout_from_header(header: list[str], columns: dict[str, str] | None, path: Path) -> _Layout:
    m = _resolve_columns(header, columns, path)
    return _Layout(
        len(header),
        m["text_a"],
        m["text_b"],
        m.get("label"),
        m.get("pair_id"),
        m.get("id_a"),
        m.get("id_b"),
    )


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    quiet = total < 200_000 or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="line", disable=quiet, leave=False)


# ---------------------------------------------------------------------- delimited text
def _read_delimited_lines(
    path: Path,
    fmt: str,
    text: str,
    has_bad: bool,
    report: ValidationReport,
    kw: dict[str, Any],
) -> _Collector:
    lines = _split_lines(text)
    layout: _Layout
    if fmt in _FIXED:
        layout, has_header, unquote, multiline = _FIXED[fmt]
    else:  # generic tsv
        has_header, unquote, multiline = True, True, True
        layout = _Layout(0, 0, 1)
    start = 0
    if has_header:
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start == len(lines):
            raise DataError(f"{path}: empty file (no header line)")
        hdr = lines[start].split("\t")
        if has_bad and _SURROGATE.search(lines[start]):
            hdr = [_SURROGATE.sub("\ufffd", h) for h in hdr]
        if fmt in _FIXED:
            key = _header_key(hdr)
            if fmt == "mrpc" and key == _MRPC_TEST_HEADER:
                layout = _Layout(5, 3, 4, None, 0, 1, 2)
            elif key[: layout.nfields] != _expected_header(fmt)[: layout.nfields]:
                raise DataError(
                    f"{path}, line {start + 1}: header {hdr} does not match format {fmt!r} "
                    f"(expected {list(_expected_header(fmt))})"
                )
            else:
                # Columns by name, so a file with the same columns in another order still reads.
                layout = _layout_by_name(layout, fmt, key)
        else:
            layout = _layout_from_header(
                [_unquote(h.strip()) for h in hdr], kw.get("columns"), path
            )
        start += 1

    col = _Collector(
        report,
        labelled=layout.label is not None,
        drop_self_pairs=kw["drop_self_pairs"],
        drop_duplicates=kw["drop_duplicates"],
        keep_bad_labels=kw["scoring"],
        label_fn=_stsb_label(kw["stsb_threshold"]) if fmt == "stsb" else _parse_label,
    )
    decode_drop = kw["decode_errors"] == "drop"
    n = layout.nfields
    ta, tb, tl, tp, t1, t2 = (
        layout.text_a,
        layout.text_b,
        layout.label,
        layout.pair_id,
        layout.id_a,
        layout.id_b,
    )
    mrpc_pid = fmt == "mrpc" and tp is None
    bar = _progress(len(lines), f"reading {path.name}")
    i = start
    total = len(lines)
    next_tick = i + 65536
    while i < total:
        if i >= next_tick:
            bar.update(i - bar.n)
            next_tick = i + 65536
        line = lines[i]
        lineno = i + 1
        i += 1
        if not line or line.isspace():
            continue
        if has_bad and _SURROGATE.search(line):
            fixed = _undecodable_line(line, lineno, report, decode_drop)
            if fixed is None:
                continue
            line = fixed
        fields = line.split("\t")
        if '"' in line and unquote:
            if len(fields) != n or (line.count('"') % 2):
                joined = _join_record(lines, lineno - 1, n) if multiline else None
                if joined is not None:
                    last, fields = joined
                    record = "\n".join(lines[lineno - 1 : last + 1])
                    if has_bad and _SURROGATE.search(record):
                        if decode_drop:
                            report.rows_read += 1
                            report.drop(
                                lineno, UNDECODABLE_BYTES, _bad_bytes(record), _printable(record)
                            )
                            i = last + 1
                            continue
                        fields = [_SURROGATE.sub("\ufffd", f) for f in fields]
                    report.repair(
                        lineno,
                        REPAIR_EMBEDDED_NEWLINE,
                        f"quoted field spans lines {lineno}-{last + 1}",
                    )
                    i = last + 1
                    line = record
                else:
                    parsed = _csv_fields(line)
                    if parsed is not None and len(parsed) == n:
                        fields = parsed  # a quoted field holding a tab
                    else:
                        fields = [_unquote(f) for f in fields]
            else:
                fields = [_unquote(f) for f in fields]
        nf = len(fields)
        if nf != n:
            if nf > n and layout.at_least:
                report.repair(lineno, REPAIR_EXTRA_COLUMNS, f"{nf} fields; read the first {n}")
            else:
                report.rows_read += 1
                detail = f"{nf} field(s), expected {n}"
                if nf == n - 1 and tl == n - 1 and fields[-1][-2:] in (" 0", " 1"):
                    detail += " (the label seems separated by a space instead of a tab)"
                report.drop(lineno, MALFORMED_LINE, detail, _printable(line))
                continue
        if mrpc_pid:
            pid: str | None = f"{fields[t1]}-{fields[t2]}"  # type: ignore[index]
        elif fmt == "stsb":
            pid = "-".join(f.strip() for f in fields[1:4])
        else:
            pid = fields[tp].strip() if tp is not None else None
        col.add(
            lineno,
            pid,
            fields[ta],
            fields[tb],
            fields[tl] if tl is not None else None,
            fields[t1].strip() if t1 is not None else None,
            fields[t2].strip() if t2 is not None else None,
            line,
        )
    bar.close()
    return col


def _expected_header(fmt: str) -> tuple[str, ...]:
    if fmt in ("quora", "glue-qqp"):
        return _QQP_HEADER
    if fmt == "glue-qqp-test":
        return _QQP_TEST_HEADER
    return _MRPC_HEADER


def _layout_by_name(layout: _Layout, fmt: str, key: tuple[str, ...]) -> _Layout:
    if fmt == "mrpc":
        return layout
    idx = {name: key.index(name) for name in key}
    if fmt == "glue-qqp-test":
        return _Layout(len(key), idx["question1"], idx["question2"], None, idx["id"])
    return _Layout(
        len(key),
        idx["question1"],
        idx["question2"],
        idx["is_duplicate"],
        idx["id"],
        idx["qid1"],
        idx["qid2"],
    )


def _stsb_label(threshold: float) -> Callable[[Any], int | None]:
    def label(value: Any) -> int | None:
        try:
            score = float(value)
        except (TypeError, ValueError):
            return None
        if not 0.0 <= score <= 5.0:
            return None
        return int(score >= threshold)

    return label


# ---------------------------------------------------------------------- csv (comma, quoted)
def _read_csv(
    path: Path, text: str, has_bad: bool, report: ValidationReport, kw: dict[str, Any]
) -> _Collector:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=",", quotechar='"')
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file (no header line)") from None
    except csv.Error as e:
        raise DataError(f"{path}, line 1: cannot parse the header: {e}") from None
    layout = _layout_from_header([h.strip() for h in header], kw.get("columns"), path)
    col = _Collector(
        report,
        labelled=layout.label is not None,
        drop_self_pairs=kw["drop_self_pairs"],
        drop_duplicates=kw["drop_duplicates"],
        keep_bad_labels=kw["scoring"],
    )
    decode_drop = kw["decode_errors"] == "drop"
    prev_end = reader.line_num
    n = layout.nfields
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(f"{path}, line {prev_end + 1}: cannot parse CSV: {e}") from None
        lineno = prev_end + 1
        span = reader.line_num - prev_end
        prev_end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        raw = ",".join(row)
        if has_bad and _SURROGATE.search(raw):
            if decode_drop:
                report.rows_read += 1
                report.drop(lineno, UNDECODABLE_BYTES, _bad_bytes(raw), _printable(raw))
                continue
            report.repair(lineno, REPAIR_UNDECODABLE, _bad_bytes(raw))
            row = [_SURROGATE.sub("\ufffd", f) for f in row]
        if span > MAX_RECORD_LINES:
            raise DataError(
                f"{path}, line {lineno}: a quoted field opened on this line runs over "
                f"{span} lines (to line {lineno + span - 1}); an unbalanced double quote? "
                "Fix the quoting, or read the file as fmt='tsv' if it is tab-separated"
            )
        if len(row) != n:
            report.rows_read += 1
            detail = f"{len(row)} field(s), expected {n}"
            if span > 1:
                detail += f" (a quoted field spans lines {lineno}-{lineno + span - 1})"
            report.drop(lineno, MALFORMED_LINE, detail, raw)
            continue
        if span > 1:
            report.repair(
                lineno,
                REPAIR_EMBEDDED_NEWLINE,
                f"quoted field spans lines {lineno}-{lineno + span - 1}",
            )
        col.add(
            lineno,
            row[layout.pair_id].strip() if layout.pair_id is not None else None,
            row[layout.text_a],
            row[layout.text_b],
            row[layout.label] if layout.label is not None else None,
            row[layout.id_a].strip() if layout.id_a is not None else None,
            row[layout.id_b].strip() if layout.id_b is not None else None,
            raw,
        )
    return col


# ---------------------------------------------------------------------- jsonl
def _read_jsonl(
    path: Path, text: str, has_bad: bool, report: ValidationReport, kw: dict[str, Any]
) -> _Collector:
    lines = _split_lines(text)
    mapping: dict[str, str] | None = None
    col: _Collector | None = None
    decode_drop = kw["decode_errors"] == "drop"

    def names_for(obj: dict[str, Any]) -> dict[str, str]:
        keys = [str(k) for k in obj]
        idx = _resolve_columns(keys, kw.get("columns"), path)
        return {canon: keys[j] for canon, j in idx.items()}

    for i, line in enumerate(lines):
        lineno = i + 1
        if not line.strip():
            continue
        if has_bad and _SURROGATE.search(line):
            fixed = _undecodable_line(line, lineno, report, decode_drop)
            if fixed is None:
                continue
            line = fixed
        try:
            obj = json.loads(line)
        except ValueError as e:
            report.rows_read += 1
            report.drop(lineno, MALFORMED_LINE, f"not valid JSON: {e}", line)
            continue
        if not isinstance(obj, dict):
            report.rows_read += 1
            report.drop(lineno, MALFORMED_LINE, f"a JSON {type(obj).__name__}, not an object", line)
            continue
        if mapping is None:
            mapping = names_for(obj)
            col = _Collector(
                report,
                labelled="label" in mapping,
                drop_self_pairs=kw["drop_self_pairs"],
                drop_duplicates=kw["drop_duplicates"],
                keep_bad_labels=kw["scoring"],
            )
        assert col is not None
        get = obj.get
        ids = [get(mapping[k]) if k in mapping else None for k in ("pair_id", "id_a", "id_b")]
        pid, ida, idb = (None if v is None else str(v) for v in ids)
        col.add(
            lineno,
            pid,
            get(mapping["text_a"]),
            get(mapping["text_b"]),
            get(mapping["label"]) if "label" in mapping else None,
            ida,
            idb,
            line,
        )
    if col is None:
        if report.rows_read:
            col = _Collector(report, labelled=False, drop_self_pairs=True, drop_duplicates=True)
        else:
            raise DataError(f"{path}: empty file (no JSON objects)")
    return col


# ---------------------------------------------------------------------- parquet
def _read_parquet(path: Path, report: ValidationReport, kw: dict[str, Any]) -> _Collector:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow: pip install 'pairlm[parquet]'"
        ) from None
    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        m = _resolve_columns(names, kw.get("columns"), path)
        table = pf.read(columns=[names[j] for j in m.values()])
    except DataError:
        raise
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {type(e).__name__}: {e}") from None
    data = {canon: table.column(names[j]).to_pylist() for canon, j in m.items()}
    col = _Collector(
        report,
        labelled="label" in data,
        drop_self_pairs=kw["drop_self_pairs"],
        drop_duplicates=kw["drop_duplicates"],
        keep_bad_labels=kw["scoring"],
    )
    n = table.num_rows
    none: list[str | None] = [None] * n

    def ids(key: str) -> list[str | None]:
        return [None if v is None else str(v) for v in data[key]] if key in data else none

    pids, ias, ibs = ids("pair_id"), ids("id_a"), ids("id_b")
    labels = data.get("label", none)
    for r in range(n):
        a, b = data["text_a"][r], data["text_b"][r]
        col.add(
            r + 1,
            pids[r],
            a,
            b,
            labels[r],
            ias[r],
            ibs[r],
            json.dumps({"text_a": a, "text_b": b, "label": labels[r]}, default=str),
        )
    return col


def _check_column_fields(columns: dict[str, Any]) -> None:
    unknown = set(columns) - set(_CANONICAL)
    if unknown:
        raise DataError(
            f"columns: unknown field(s) {sorted(unknown)}; the fields are {', '.join(_CANONICAL)}"
        )


# ====================================================================== public API
def reader_options(
    columns: dict[str, Any] | None = None,
    *,
    keep_self_pairs: bool = False,
    keep_duplicates: bool = False,
) -> dict[str, Any]:
    """`read_pairs` keywords from the settings users write (CLI flags, `[data]` keys): a column
    mapping (checked here, before any file is read) and the two keep switches."""
    kw: dict[str, Any] = {}
    if columns:
        _check_column_fields(columns)
        kw["columns"] = {k: str(v) for k, v in columns.items()}
    if keep_self_pairs:
        kw["drop_self_pairs"] = False
    if keep_duplicates:
        kw["drop_duplicates"] = False
    return kw


def read_pairs(
    path: str | Path,
    fmt: str = "auto",
    *,
    policy: Policy = "skip",
    side_file: str | Path | Literal["auto"] | None = "auto",
    columns: dict[str, str] | None = None,
    stsb_threshold: float = 4.0,
    drop_self_pairs: bool = True,
    drop_duplicates: bool = True,
    decode_errors: Literal["drop", "replace"] = "drop",
    name: str | None = None,
    scoring: bool = False,
) -> PairDataset:
    """Read a pair file into a `PairDataset`; ``dataset.report`` is its `ValidationReport`.

    Args:
        path: the file.
        fmt: one of `KNOWN_FORMATS`, or "auto" (`detect_format`).
        policy: "skip" drops bad rows and counts them by reason; "error" raises `DataError`
            naming the file and line at the first bad row.
        side_file: where dropped rows go (JSONL: line, reason, detail, raw text). "auto":
            ``<cache>/dropped/<file name>.<hash of its path>.dropped.jsonl`` (see
            `dropped_dir`); None: nowhere. Nothing dropped, no file.
        columns: for csv/tsv/jsonl/parquet, maps text_a / text_b / label / pair_id / id_a /
            id_b to source column names (others are found by common names: question1,
            sentence1, is_duplicate, ...). Without a label column the pairs are unlabelled.
        stsb_threshold: STS-B scores (0-5) at or above it become label 1.
        drop_self_pairs: drop pairs whose two texts have the same id or the same normal form.
        drop_duplicates: drop a pair whose two texts (either order) repeat an earlier pair.
        decode_errors: rows with bytes that are not UTF-8 are dropped ("drop") or kept with
            U+FFFD in their place ("replace", counted as a repair).
        name: the dataset's name (default: the file's stem).
        scoring: read for scoring, where every row counts: self-pairs and repeated pairs are
            kept (whatever `drop_self_pairs` / `drop_duplicates` say) and a label that is not
            0/1 becomes unknown (-1, counted as a repair) instead of dropping the row. Rows
            that cannot be scored (an empty text, a malformed line, undecodable bytes) are
            still dropped and reported; ``report.kept_lines`` gives each kept row's line, so
            a caller can put both back in input order.
    """
    p = Path(path)
    if policy not in ("skip", "error"):
        raise ValueError(f"policy must be 'skip' or 'error', got {policy!r}")
    if decode_errors not in ("drop", "replace"):
        raise ValueError(f"decode_errors must be 'drop' or 'replace', got {decode_errors!r}")
    if fmt == "auto":
        fmt = detect_format(p)
    elif fmt not in KNOWN_FORMATS:
        raise DataError(f"unknown format {fmt!r}; known formats: {', '.join(KNOWN_FORMATS)}")
    if columns and fmt not in ("csv", "tsv", "jsonl", "parquet"):
        logger.warning("columns= is ignored for the fixed format %r of %s", fmt, p)
    report = ValidationReport(source=str(p), format=fmt, policy=policy)
    kw: dict[str, Any] = {
        "columns": columns,
        "stsb_threshold": float(stsb_threshold),
        "drop_self_pairs": drop_self_pairs and not scoring,
        "drop_duplicates": drop_duplicates and not scoring,
        "scoring": scoring,
        "decode_errors": decode_errors,
    }
    if fmt == "parquet":
        if not p.is_file():
            raise DataError(f"{p}: no such file")
        col = _read_parquet(p, report, kw)
    else:
        data = _read_bytes(p)
        if not data.strip():
            raise DataError(f"{p}: empty file; known formats: {_FORMAT_HELP}")
        text, has_bad, bom = _decode(p, data)
        del data
        if bom:
            report.repair(1, REPAIR_BOM, "byte-order mark removed from the start of the file")
        if fmt == "csv":
            col = _read_csv(p, text, has_bad, report, kw)
        elif fmt == "jsonl":
            col = _read_jsonl(p, text, has_bad, report, kw)
        else:
            col = _read_delimited_lines(p, fmt, text, has_bad, report, kw)
        del text
    ds = col.build(name if name is not None else p.stem)
    if report.rows_dropped and side_file is not None:
        target = _auto_side_file(p) if side_file == "auto" else Path(side_file)
        try:
            report.write_side_file(target)
        except OSError as e:
            logger.warning("could not write the dropped rows of %s to %s: %s", p, target, e)
    elif side_file == "auto":
        stale = _auto_side_file(p)
        if stale.exists():
            stale.unlink(missing_ok=True)
    level = logging.WARNING if report.rows_dropped else logging.INFO
    logger.log(level, "%s", report.summary().splitlines()[0])
    return ds


def read_glue_dir(
    directory: str | Path, task: Literal["qqp", "mrpc"] = "qqp", **kw: Any
) -> dict[str, PairDataset]:
    """Read a GLUE task directory into ``{"train", "dev", "test"}`` (those present).

    QQP: ``train.tsv``, ``dev.tsv`` (labelled) and ``test.tsv`` (unlabelled), also inside a
    ``QQP/`` subfolder. MRPC: GLUE's ``train.tsv``/``dev.tsv``/``test.tsv`` when present, else
    the original release (``msr_paraphrase_train.txt`` split by ``dev_ids.tsv`` into
    train/dev, ``msr_paraphrase_test.txt`` as a labelled test). ``kw`` go to `read_pairs`.
    """
    kw.pop("fmt", None)
    kw.pop("name", None)
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory")
    if task not in ("qqp", "mrpc"):
        raise ValueError(f"task must be 'qqp' or 'mrpc', got {task!r}")
    sub = d / task.upper()
    if not (d / "train.tsv").exists() and sub.is_dir():
        d = sub
    out: dict[str, PairDataset] = {}
    for split in ("train", "dev", "test"):
        f = d / f"{split}.tsv"
        if f.is_file():
            out[split] = read_pairs(f, "auto", name=f"{task}-{split}", **kw)
    if task == "mrpc" and not out:
        out = _read_mrpc_release(d, **kw)
    if "train" not in out and "dev" not in out:
        expected = (
            "train.tsv, dev.tsv, test.tsv"
            if task == "qqp"
            else "train.tsv/dev.tsv/test.tsv or msr_paraphrase_train.txt + dev_ids.tsv"
        )
        raise DataError(f"{directory}: no GLUE {task.upper()} files found (expected {expected})")
    return out


def _read_mrpc_release(d: Path, **kw: Any) -> dict[str, PairDataset]:
    train_f, test_f, dev_f = (
        d / "msr_paraphrase_train.txt",
        d / "msr_paraphrase_test.txt",
        d / "dev_ids.tsv",
    )
    out: dict[str, PairDataset] = {}
    if not train_f.is_file():
        return out
    full = read_pairs(train_f, "mrpc", name="mrpc-train", **kw)
    if dev_f.is_file():
        dev_ids = set()
        for k, line in enumerate(dev_f.read_text(encoding="utf-8-sig").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise DataError(f"{dev_f}, line {k}: expected two ids, got {line!r}")
            dev_ids.add((parts[0], parts[1]))
        is_dev = np.fromiter(
            ((a, b) in dev_ids for a, b in zip(full.id_a, full.id_b)), dtype=bool, count=len(full)
        )
        for split, mask in (("train", ~is_dev), ("dev", is_dev)):
            sub = full.subset(mask, name=f"mrpc-{split}")
            out[split] = PairDataset(
                sub.pair_id,
                sub.text_a,
                sub.text_b,
                sub.label,
                sub.id_a,
                sub.id_b,
                sub.name,
                full.report,
            )
    else:
        out["train"] = full
    if test_f.is_file():
        out["test"] = read_pairs(test_f, "mrpc", name="mrpc-test", **kw)
    return out
