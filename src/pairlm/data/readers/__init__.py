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

Modules: `common` (options, constants, byte decoding, small helpers), `detect`
(`detect_format`), `layouts` (column layouts, header names, column mappings), `collector`
(the row pipeline every reader feeds), `delimited` (tab-separated text: the fixed formats and
generic TSV), `tabular` (CSV, JSON Lines, Parquet), `api` (`read_pairs` and its format ->
reader table, `reader_options`), `glue` (`read_glue_dir`). Names with a leading underscore
are private to this package.
"""

from __future__ import annotations

# The readers' former names for the text-id helpers, which now live in `pairlm.data.pairs`.
from pairlm.data.pairs import normalize_text_fast as _norm_fast  # noqa: F401
from pairlm.data.pairs import text_id_from_normal_form as _id_from_norm  # noqa: F401
from pairlm.data.readers.api import KNOWN_FORMATS, READERS, read_pairs, reader_options
from pairlm.data.readers.common import MAX_RECORD_LINES, ReadOptions, dropped_dir
from pairlm.data.readers.common import _unquote as _unquote
from pairlm.data.readers.detect import detect_format
from pairlm.data.readers.glue import read_glue_dir

__all__ = [
    "KNOWN_FORMATS",
    "MAX_RECORD_LINES",
    "READERS",
    "ReadOptions",
    "detect_format",
    "dropped_dir",
    "read_glue_dir",
    "read_pairs",
    "reader_options",
]
