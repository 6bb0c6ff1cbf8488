"""Telling a pair file's format from its content (`detect_format`)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from pairlm.data.readers.collector import _join_record
from pairlm.data.readers.common import _FORMAT_HELP, _LABELS, _decode, _header_key, _split_lines
from pairlm.data.readers.layouts import (
    _MRPC_HEADER,
    _MRPC_TEST_HEADER,
    _QQP_HEADER,
    _QQP_TEST_HEADER,
    _resolve_columns,
)
from pairlm.data.validation import DataError

_SNIFF_BYTES = 1 << 20
_FIRST_LINE_MAX = 1 << 28  # format detection reads a first line up to this long whole
_DIGITS = re.compile(r"\d+\Z")


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
