"""Tab-separated text: the fixed-layout formats (QQP, BiMPM, MRPC, STS-B) and generic TSV
with a header, split on tabs with no quote processing (see the package docstring)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pairlm.data.readers.collector import _Collector, _join_record
from pairlm.data.readers.common import (
    _SURROGATE,
    ReadOptions,
    _bad_bytes,
    _csv_fields,
    _header_key,
    _parse_label,
    _printable,
    _row_id,
    _split_lines,
    _undecodable_line,
    _unquote,
    read_text,
)
from pairlm.data.readers.layouts import (
    _FIXED,
    _MRPC_TEST_HEADER,
    _expected_header,
    _Layout,
    _layout_by_name,
    _layout_from_header,
    _stsb_label,
)
from pairlm.data.validation import (
    MALFORMED_LINE,
    REPAIR_EMBEDDED_NEWLINE,
    REPAIR_EXTRA_COLUMNS,
    UNDECODABLE_BYTES,
    DataError,
    ValidationReport,
)


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    quiet = total < 200_000 or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="line", disable=quiet, leave=False)


def _read_header(
    lines: list[str],
    path: Path,
    fmt: str,
    layout: _Layout,
    has_bad: bool,
    options: ReadOptions,
) -> tuple[_Layout, int]:
    """The layout the header line gives (a fixed format's columns by name, MRPC's test
    header, or a generic TSV's named columns) and the index of the first line after it."""
    start = 0
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
        layout = _layout_from_header([_unquote(h.strip()) for h in hdr], options.columns, path)
    return layout, start + 1


def _quoted_fields(
    lines: list[str],
    line: str,
    lineno: int,
    n: int,
    multiline: bool,
    has_bad: bool,
    report: ValidationReport,
    decode_drop: bool,
) -> tuple[list[str] | None, str, int]:
    """(fields, record, index of the next line) of line `lineno`, which holds a double quote:
    a quoted field spanning lines joined into one record (repaired), a quoted field holding
    a tab parsed as CSV, else each field unquoted. Fields None: the joined record held
    undecodable bytes and was dropped."""
    fields = line.split("\t")
    if len(fields) != n or (line.count('"') % 2):
        joined = _join_record(lines, lineno - 1, n) if multiline else None
        if joined is not None:
            last, fields = joined
            record = "\n".join(lines[lineno - 1 : last + 1])
            if has_bad and _SURROGATE.search(record):
                if decode_drop:
                    report.rows_read += 1
                    report.drop(lineno, UNDECODABLE_BYTES, _bad_bytes(record), _printable(record))
                    return None, record, last + 1
                fields = [_SURROGATE.sub("\ufffd", f) for f in fields]
            report.repair(
                lineno,
                REPAIR_EMBEDDED_NEWLINE,
                f"quoted field spans lines {lineno}-{last + 1}",
            )
            return fields, record, last + 1
        parsed = _csv_fields(line)
        if parsed is not None and len(parsed) == n:
            return parsed, line, lineno  # a quoted field holding a tab
    return [_unquote(f) for f in fields], line, lineno


def _fit_width(
    fields: list[str],
    line: str,
    lineno: int,
    layout: _Layout,
    fmt: str,
    options: ReadOptions,
    report: ValidationReport,
) -> list[str] | None:
    """The fields of a line with more or fewer than the layout's: extra columns repaired
    (where the layout allows them), a left-off label read as empty when scoring; else None,
    the line dropped as malformed."""
    n, nf, tl, tp = layout.nfields, len(fields), layout.label, layout.pair_id
    if nf > n and layout.at_least:
        report.repair(lineno, REPAIR_EXTRA_COLUMNS, f"{nf} fields; read the first {n}")
        return fields
    if options.scoring and nf == n - 1 and tl == n - 1:
        # Scoring needs no label: a row whose last field, the label, is left off is
        # read with an empty one (the collector records it as label_ignored).
        fields.append("")
        return fields
    report.rows_read += 1
    detail = f"{nf} field(s), expected {n}"
    if nf == n - 1 and tl == n - 1 and fields[-1][-2:] in (" 0", " 1"):
        detail += " (the label seems separated by a space instead of a tab)"
    mrpc_pid = fmt == "mrpc" and tp is None
    row_id = None if mrpc_pid or fmt == "stsb" else _row_id(fields, tp, lineno)
    report.drop(lineno, MALFORMED_LINE, detail, _printable(line), row_id)
    return None


def _read_delimited_lines(
    path: Path, fmt: str, report: ValidationReport, options: ReadOptions
) -> _Collector:
    """Tab-separated text in format `fmt` (a fixed layout, or "tsv" with a header)."""
    text, has_bad = read_text(path, report)
    lines = _split_lines(text)
    layout: _Layout
    if fmt in _FIXED:
        layout, has_header, unquote, multiline = _FIXED[fmt]
    else:  # generic tsv
        has_header, unquote, multiline = True, True, True
        layout = _Layout(0, 0, 1)
    start = 0
    if has_header:
        layout, start = _read_header(lines, path, fmt, layout, has_bad, options)

    col = _Collector.for_options(
        report,
        options,
        labelled=layout.label is not None,
        label_fn=_stsb_label(options.stsb_threshold) if fmt == "stsb" else _parse_label,
    )
    decode_drop = options.decode_drop
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
        if '"' in line and unquote:
            quoted, line, i = _quoted_fields(
                lines, line, lineno, n, multiline, has_bad, report, decode_drop
            )
            if quoted is None:
                continue
            fields = quoted
        else:
            fields = line.split("\t")
        if len(fields) != n:
            fitted = _fit_width(fields, line, lineno, layout, fmt, options, report)
            if fitted is None:
                continue
            fields = fitted
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
