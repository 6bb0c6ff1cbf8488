"""Where each column sits: the fixed layouts of the known formats and their expected
headers, the header names (aliases) understood for the generic formats, resolving a
column mapping against a header, and the STS-B score-to-label rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairlm.data.validation import DataError

_QQP_HEADER = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")
_QQP_TEST_HEADER = ("id", "question1", "question2")
_MRPC_HEADER = ("quality", "#1 id", "#2 id", "#1 string", "#2 string")
_MRPC_TEST_HEADER = ("index", "#1 id", "#2 id", "#1 string", "#2 string")

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


def _check_column_fields(columns: dict[str, Any]) -> None:
    unknown = set(columns) - set(_CANONICAL)
    if unknown:
        raise DataError(
            f"columns: unknown field(s) {sorted(unknown)}; the fields are {', '.join(_CANONICAL)}"
        )
