"""The column-mapped formats besides TSV: comma-separated CSV (quoted fields), JSON Lines
and Parquet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pairlm.data.readers.collector import _Collector
from pairlm.data.readers.common import (
    _SURROGATE,
    MAX_RECORD_LINES,
    ReadOptions,
    _bad_bytes,
    _printable,
    _row_id,
    _split_lines,
    _undecodable_line,
    read_text,
)
from pairlm.data.readers.layouts import _layout_from_header, _resolve_columns
from pairlm.data.validation import (
    MALFORMED_LINE,
    REPAIR_EMBEDDED_NEWLINE,
    REPAIR_UNDECODABLE,
    UNDECODABLE_BYTES,
    DataError,
    ValidationReport,
)


# ---------------------------------------------------------------------- csv (comma, quoted)
def _read_csv(path: Path, fmt: str, report: ValidationReport, options: ReadOptions) -> _Collector:
    """Comma-separated values with a header, quoted fields possibly spanning lines."""
    text, has_bad = read_text(path, report)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=",", quotechar='"')
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file (no header line)") from None
    except csv.Error as e:
        raise DataError(f"{path}, line 1: cannot parse the header: {e}") from None
    layout = _layout_from_header([h.strip() for h in header], options.columns, path)
    col = _Collector.for_options(
        report,
        options,
        labelled=layout.label is not None,
    )
    decode_drop = options.decode_drop
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
            report.drop(lineno, MALFORMED_LINE, detail, raw, _row_id(row, layout.pair_id, lineno))
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
def _read_jsonl(path: Path, fmt: str, report: ValidationReport, options: ReadOptions) -> _Collector:
    """JSON Lines: one object per line, its keys mapped to columns from the first object."""
    text, has_bad = read_text(path, report)
    lines = _split_lines(text)
    mapping: dict[str, str] | None = None
    col: _Collector | None = None
    decode_drop = options.decode_drop

    def names_for(obj: dict[str, Any]) -> dict[str, str]:
        keys = [str(k) for k in obj]
        idx = _resolve_columns(keys, options.columns, path)
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
            col = _Collector.for_options(
                report,
                options,
                labelled="label" in mapping,
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
def _read_parquet(
    path: Path, fmt: str, report: ValidationReport, options: ReadOptions
) -> _Collector:
    """A Parquet file (through pyarrow), its columns mapped like CSV headers."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow: pip install 'pairlm[parquet]'"
        ) from None
    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        m = _resolve_columns(names, options.columns, path)
        table = pf.read(columns=[names[j] for j in m.values()])
    except DataError:
        raise
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {type(e).__name__}: {e}") from None
    data = {canon: table.column(names[j]).to_pylist() for canon, j in m.items()}
    col = _Collector.for_options(
        report,
        options,
        labelled="label" in data,
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
