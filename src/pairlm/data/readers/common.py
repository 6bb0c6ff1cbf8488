"""What every reader shares: option and format constants, the typed read options, byte
decoding (BOM, UTF-16, undecodable bytes), line splitting, CSV unquoting, label parsing,
text normal forms and ids, and where dropped rows go."""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairlm.data.validation import (
    REPAIR_BOM,
    REPAIR_UNDECODABLE,
    UNDECODABLE_BYTES,
    DataError,
    ValidationReport,
)
from pairlm.paths import cache_root

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


# Long texts are data, not errors: let the csv module read fields of any size (its default
# limit, 128 KiB, turns a long field into a traceback).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_SURROGATE = re.compile("[\udc80-\udcff]")
_LABELS = {"0": 0, "1": 1}


@dataclass(frozen=True)
class ReadOptions:
    """What `read_pairs` passes to every reader, decided once from its keywords."""

    columns: dict[str, str] | None = None
    """Canonical column -> source column, for the column-mapped formats (None: by alias)."""
    stsb_threshold: float = 4.0
    drop_self_pairs: bool = True
    drop_duplicates: bool = True
    scoring: bool = False
    """Reading for scoring: a label that is not 0/1 is kept as unknown (see `read_pairs`)."""
    decode_errors: Literal["drop", "replace"] = "drop"

    @property
    def decode_drop(self) -> bool:
        """Whether a row holding undecodable bytes is dropped (else repaired with U+FFFD)."""
        return self.decode_errors == "drop"


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


def _row_id(fields: Sequence[str], column: int | None, lineno: int) -> str | None:
    """The id of a row that is dropped before it is parsed whole: its id field where the line
    has one, its line number where the input has no id column, else None (unknown)."""
    if column is None:
        return str(lineno)
    return fields[column].strip() if column < len(fields) else None


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


def read_text(path: Path, report: ValidationReport) -> tuple[str, bool]:
    """A text file's content and whether it holds undecodable bytes (as surrogate escapes);
    a removed byte-order mark is counted in `report` as a repair."""
    data = _read_bytes(path)
    if not data.strip():
        raise DataError(f"{path}: empty file; known formats: {_FORMAT_HELP}")
    text, has_bad, bom = _decode(path, data)
    del data
    if bom:
        report.repair(1, REPAIR_BOM, "byte-order mark removed from the start of the file")
    return text, has_bad
