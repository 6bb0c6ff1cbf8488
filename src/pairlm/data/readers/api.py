"""`read_pairs`: the format -> reader table, the options, side files; `reader_options`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pairlm.data.pairs import PairDataset
from pairlm.data.readers.collector import _Collector
from pairlm.data.readers.common import ReadOptions, _auto_side_file
from pairlm.data.readers.delimited import _read_delimited_lines
from pairlm.data.readers.detect import detect_format
from pairlm.data.readers.layouts import _FIXED, _check_column_fields
from pairlm.data.readers.tabular import _read_csv, _read_jsonl, _read_parquet
from pairlm.data.validation import DataError, Policy, ValidationReport

# The package's name (this was once one module): the CLI quiets the readers by that name.
logger = logging.getLogger("pairlm.data.readers")

Reader = Callable[[Path, str, ValidationReport, ReadOptions], _Collector]
"""A reader: (file, format, its report, the options) -> the collected rows."""

READERS: dict[str, Reader] = {
    "quora": _read_delimited_lines,
    "glue-qqp": _read_delimited_lines,
    "glue-qqp-test": _read_delimited_lines,
    "glue-qqp-headerless": _read_delimited_lines,
    "bimpm": _read_delimited_lines,
    "mrpc": _read_delimited_lines,
    "stsb": _read_delimited_lines,
    "csv": _read_csv,
    "tsv": _read_delimited_lines,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
}
"""The one table `read_pairs` chooses its reader from, by format. The formats with a layout
in `layouts._FIXED` ignore a column mapping; the others are column-mapped."""

KNOWN_FORMATS: tuple[str, ...] = tuple(READERS)
"""Formats `detect_format` can return and `read_pairs` accepts as ``fmt``."""


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
    if columns and fmt in _FIXED:
        logger.warning("columns= is ignored for the fixed format %r of %s", fmt, p)
    report = ValidationReport(source=str(p), format=fmt, policy=policy)
    options = ReadOptions(
        columns=columns,
        stsb_threshold=float(stsb_threshold),
        drop_self_pairs=drop_self_pairs and not scoring,
        drop_duplicates=drop_duplicates and not scoring,
        scoring=scoring,
        decode_errors=decode_errors,
    )
    col = READERS[fmt](p, fmt, report, options)
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
