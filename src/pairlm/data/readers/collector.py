"""The row pipeline every reader feeds: `_Collector` validates rows one at a time (empty
texts, bad labels, self-pairs, repeated pairs, repeated pair ids) and builds the
`PairDataset`; `_join_record` joins a quoted field that spans lines."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pairlm.data.pairs import (
    MISSING_LABEL,
    PairDataset,
    normalize_text_fast,
    text_id_from_normal_form,
)
from pairlm.data.readers.common import (
    _LABELS,
    MAX_RECORD_LINES,
    ReadOptions,
    _csv_fields,
    _parse_label,
)
from pairlm.data.validation import (
    BAD_LABEL,
    DUPLICATE_PAIR,
    EMPTY_TEXT,
    MALFORMED_LINE,
    REPAIR_DUPLICATE_PAIR_ID,
    REPAIR_LABEL_IGNORED,
    SELF_PAIR,
    ValidationReport,
)


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

    @classmethod
    def for_options(
        cls,
        report: ValidationReport,
        options: ReadOptions,
        *,
        labelled: bool,
        label_fn: Callable[[Any], int | None] = _parse_label,
    ) -> _Collector:
        """A collector that drops and keeps rows as `options` say."""
        return cls(
            report,
            labelled=labelled,
            drop_self_pairs=options.drop_self_pairs,
            drop_duplicates=options.drop_duplicates,
            keep_bad_labels=options.scoring,
            label_fn=label_fn,
        )

    def norm(self, text: str) -> str:
        n = self._norm.get(text)
        if n is None:
            n = self._norm[text] = normalize_text_fast(text)
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
        if pid is None:
            pid = str(line)  # no id column: the line-based id every output row uses
        if a.__class__ is not str or b.__class__ is not str:
            for side, t in (("text_a", a), ("text_b", b)):
                if (
                    t is not None
                    and not isinstance(t, str)
                    and not (isinstance(t, float) and math.isnan(t))
                ):
                    rep.drop(
                        line, MALFORMED_LINE, f"{side} is {type(t).__name__}, not text", raw, pid
                    )
                    return
            a = a if isinstance(a, str) else ""
            b = b if isinstance(b, str) else ""
        if not a or a.isspace() or not b or b.isspace():
            side = "text_a" if not a or a.isspace() else "text_b"
            rep.drop(line, EMPTY_TEXT, f"{side} is empty or missing", raw, pid)
            return
        if self.labelled:
            y = _LABELS.get(label) if label.__class__ is str else None
            if y is None:
                y = self.label_fn(label)
                if y is None:
                    if not self.keep_bad_labels:
                        rep.drop(line, BAD_LABEL, f"label {label!r} is not 0 or 1", raw, pid)
                        return
                    # Scoring needs no label: the row is scored, its label left unknown.
                    rep.repair(line, REPAIR_LABEL_IGNORED, f"label {label!r} is not 0 or 1")
                    y = MISSING_LABEL
        else:
            y = MISSING_LABEL
        if self.drop_self_pairs:
            if ida is not None and ida == idb:
                rep.drop(line, SELF_PAIR, f"both texts have id {ida!r}", raw, pid)
                return
            if a.isascii() and b.isascii():
                # NFKC is the identity on ASCII: compare case-folded words directly.
                same = a.lower().split() == b.lower().split()
            else:
                same = self.norm(a) == self.norm(b)
            if same:
                rep.drop(line, SELF_PAIR, "both texts are the same after normalisation", raw, pid)
                return
        if self.drop_duplicates:
            prev = self._seen.setdefault((a, b) if a <= b else (b, a), line)
            if prev != line:
                rep.drop(line, DUPLICATE_PAIR, f"same two texts as line {prev}", raw, pid)
                return
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
        return [
            x if x is not None else text_id_from_normal_form(self.norm(t))
            for x, t in zip(ids, texts)
        ]

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
