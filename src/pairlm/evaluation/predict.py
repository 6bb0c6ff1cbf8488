"""`pairlm predict`'s output: every input row, in input order, scored or not.

The scores may come from this process (`model.predict_proba`) or from Ray
(`pairlm.models.ray_scoring.score_on_ray`); the rows, counts and reasons are built here,
once, from the dataset's validation report, so both paths print the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HEADER = "line\tpair_id\tproba\tprediction\tstatus\treason\n"


@dataclass(frozen=True)
class PredictRows:
    rows: list[tuple[float, str, str, str, str, str]]
    """(line, pair_id, proba, prediction, status, reason), in input order."""
    n_scored: int
    unscored_reasons: list[str]
    """The reason of each unscored row."""

    def summary(self, out: Path | None = None) -> str:
        reasons = sorted(set(self.unscored_reasons))
        return (
            f"{len(self.rows)} rows: {self.n_scored} scored, {len(self.unscored_reasons)} unscored"
            + (f" ({', '.join(reasons)})" if reasons else "")
            + (f"; wrote {out}" if out else "")
        )

    def text(self) -> str:
        return HEADER + "".join(
            f"{int(r[0])}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\n" for r in self.rows
        )


def predict_rows(ds: Any, proba: np.ndarray, threshold: float) -> PredictRows:
    """Every row of the file `ds` was read from (with `scoring=True`): the scored ones with
    their probability and prediction, the dropped ones as "unscored" with their reason."""
    pred = (proba >= threshold).astype(int)
    rep = ds.report
    lines = rep.kept_lines if rep is not None and len(rep.kept_lines) == len(ds) else None
    rows: list[tuple[float, str, str, str, str, str]] = []
    for k, (pid, p, y) in enumerate(zip(ds.pair_id, proba, pred)):
        rows.append((lines[k] if lines else k, str(pid), f"{p:.6f}", str(y), "scored", ""))
    unscored = []
    if rep is not None and lines is not None:
        unscored = [i for i in rep.issues if i.reason in rep.dropped]
        for i in unscored:
            pid = i.pair_id if i.pair_id is not None else f"line-{i.line}"
            rows.append((i.line, pid, "", "", "unscored", i.reason))
        rows.sort(key=lambda r: r[0])
    return PredictRows(rows, len(ds), [i.reason for i in unscored])


def write_text_atomic(out: Path, text: str) -> None:
    """Write `text` to `out` through a temporary file, so a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
