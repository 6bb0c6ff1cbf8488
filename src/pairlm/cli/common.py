"""What the commands share: reading a dataset named on the command line, column and fold
flags, the results console."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


def console() -> Any:
    from rich.console import Console

    con = Console()
    if not con.is_terminal:  # piped or in CI: don't squeeze the results table into 80 columns
        con = Console(width=200)
    return con


def load_data(spec: str, fmt: str = "auto", policy: str = "skip", **kw: Any) -> Any:
    """A dataset from a path or a registered name (see `pairlm data list`)."""
    from pairlm.data import load_dataset

    # The full validation report is printed below; skip the reader's one-line warning.
    logging.getLogger("pairlm.data.readers").setLevel(logging.ERROR)
    ds = load_dataset(spec, fmt=fmt, policy=policy, **kw)
    rep = ds.report
    if rep is not None and (rep.rows_dropped or rep.rows_repaired):
        print(rep.summary(), file=sys.stderr)
    return ds


def parse_columns(text: str | None) -> dict[str, str] | None:
    """`--columns text_a=question,text_b=candidate,label=is_dup` as a mapping (the fields are
    checked by `reader_options`)."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, col = part.partition("=")
        if not sep or not key.strip() or not col.strip():
            raise SystemExit(
                f"error: --columns expects FIELD=COLUMN pairs (e.g. text_a=question); got {part!r}"
            )
        out[key.strip()] = col.strip()
    return out


def data_kw(args: argparse.Namespace) -> dict[str, Any]:
    """Reader options from the shared data flags (`add_data_args`)."""
    from pairlm.data.readers import reader_options

    return reader_options(
        parse_columns(getattr(args, "columns", None)),
        keep_self_pairs=getattr(args, "keep_self_pairs", False),
        keep_duplicates=getattr(args, "keep_duplicates", False),
    )


def add_data_args(p: argparse.ArgumentParser, training: bool = True) -> None:
    p.add_argument("--format", default="auto", help="force a format (default: detect)")
    p.add_argument(
        "--columns",
        help="column mapping for csv/tsv/jsonl/parquet, e.g. "
        "text_a=question,text_b=candidate,label=is_dup",
    )
    if training:
        p.add_argument(
            "--keep-self-pairs",
            action="store_true",
            help="keep pairs of a text with itself (dropped by default: they leak across folds)",
        )
        p.add_argument(
            "--keep-duplicates",
            action="store_true",
            help="keep exact repeats of a pair (dropped by default)",
        )


def name_list(text: str | None) -> list[str] | None:
    """A comma-separated flag (`--runs a,b`) as a list; None when absent or empty."""
    return [x for x in (text or "").split(",") if x] or None


def fold_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(
            f"error: --fold-ids expects comma-separated integers, got {text!r}"
        ) from None
