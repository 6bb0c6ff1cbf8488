"""The validation report every load produces: rows read, kept, repaired and dropped, by reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pairlm.errors import DataError

Policy = Literal["skip", "error"]

# Reasons a row is dropped.
EMPTY_TEXT = "empty_text"  # a text is missing or blank
BAD_LABEL = "bad_label"  # label is not 0/1 (or not a number)
MALFORMED_LINE = "malformed_line"  # wrong number of fields, unparseable line
UNDECODABLE_BYTES = "undecodable_bytes"  # bytes that are not valid in the file's encoding
SELF_PAIR = "self_pair"  # both texts are the same question (same id or same normal form)
DUPLICATE_PAIR = (
    "duplicate_pair"  # an exact repeat of an earlier pair (same two texts, either order)
)
DROP_REASONS = (EMPTY_TEXT, BAD_LABEL, MALFORMED_LINE, UNDECODABLE_BYTES, SELF_PAIR, DUPLICATE_PAIR)

# Repairs made while keeping a row.
REPAIR_BOM = "bom_removed"
REPAIR_EMBEDDED_NEWLINE = "embedded_newline"  # a quoted field spanning lines, kept as one row
REPAIR_WHITESPACE_SEPARATOR = "space_before_label"  # label separated by a space instead of a tab
REPAIR_EXTRA_COLUMNS = "extra_columns_ignored"
REPAIR_UNDECODABLE = "undecodable_bytes_replaced"  # only with decode_errors="replace"
REPAIR_DUPLICATE_PAIR_ID = "duplicate_pair_id_renamed"  # a pair id used twice, made unique
REPAIR_LABEL_IGNORED = "label_ignored"  # scoring: a label that is not 0/1, left unknown


@dataclass
class Issue:
    """One row-level finding, with its 1-based line number in the source file."""

    line: int
    reason: str
    detail: str = ""
    raw: str = ""
    pair_id: str | None = None
    """The row's own id, where the reader got that far (`pair_id` of the output rows)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "line": self.line,
            "reason": self.reason,
            "detail": self.detail,
            "raw": self.raw,
        }
        if self.pair_id is not None:
            d["pair_id"] = self.pair_id
        return d


@dataclass
class ValidationReport:
    """What happened to every row of one source during a load."""

    source: str
    format: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)
    side_file: str | None = None
    policy: Policy = "skip"
    kept_lines: list[int] = field(default_factory=list, repr=False)
    """The source line of each kept row, in order (not serialised)."""

    MAX_EXAMPLES = 20  # per reason, in `summary()`

    @property
    def rows_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    @property
    def rows_repaired(self) -> int:
        return int(sum(self.repaired.values()))

    def drop(
        self, line: int, reason: str, detail: str = "", raw: str = "", pair_id: str | None = None
    ) -> None:
        """Count a dropped row (with its own id when known); with policy "error", raise instead."""
        if self.policy == "error":
            raise DataError(f"{self.source}, line {line}: {reason}: {detail}".rstrip(": "))
        self.dropped[reason] += 1
        self.issues.append(Issue(line, reason, detail, raw, pair_id))

    def repair(self, line: int, reason: str, detail: str = "") -> None:
        self.repaired[reason] += 1
        self.issues.append(Issue(line, reason, detail))

    def lines_for(self, reason: str) -> list[int]:
        return [i.line for i in self.issues if i.reason == reason]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "policy": self.policy,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "rows_repaired": self.rows_repaired,
            "dropped": dict(self.dropped),
            "repaired": dict(self.repaired),
            "side_file": self.side_file,
            "issues": [i.to_dict() for i in self.issues],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def summary(self) -> str:
        """A few human-readable lines: counts by reason with example line numbers."""
        out = [
            f"{self.source} ({self.format}): read {self.rows_read}, kept {self.rows_kept}, "
            f"dropped {self.rows_dropped}, repaired {self.rows_repaired}"
        ]
        for kind, counter in (("dropped", self.dropped), ("repaired", self.repaired)):
            for reason, n in sorted(counter.items()):
                lines = self.lines_for(reason)[: self.MAX_EXAMPLES]
                more = " ..." if n > len(lines) else ""
                out.append(f"  {kind} {n:>7} {reason}: lines {', '.join(map(str, lines))}{more}")
        if self.side_file:
            out.append(f"  dropped rows written to {self.side_file}")
        return "\n".join(out)

    def write_side_file(self, path: str | Path) -> Path | None:
        """Write every dropped row (line, reason, detail, raw text) as JSONL. None if nothing dropped."""
        dropped = [i for i in self.issues if i.reason in self.dropped]
        if not dropped:
            return None
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("w", encoding="utf-8") as fh:
            for i in dropped:
                fh.write(json.dumps(i.to_dict(), ensure_ascii=False) + "\n")
        self.side_file = str(p)
        return p
