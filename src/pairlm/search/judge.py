"""Measuring a matching against graded judgements (``query_id, candidate_id, grade``).

Grades are any ordered numbers (1-5, 0/1, 0-100); the ids are query and candidate profiles
(document ids when a file has no ``profile`` field). Per judged query, and over queries as a
mean with a percentile bootstrap 95% CI (queries resampled with replacement):

- ``ndcg@k``: DCG of the returned top k over the DCG of the ideal order of the query's judged
  candidates; a candidate's gain is its grade minus the lowest grade of the file, unjudged
  candidates gain 0; a query whose judged candidates all gain 0 has no nDCG.
- ``map@k``: average precision of the returned top k, a candidate relevant when its grade is
  at least the relevance grade: the sum over the relevant candidates in the top k of the
  precision at their rank, over ``min(relevant judged candidates, k)``; a query without a
  relevant judged candidate has none.
- ``pairwise_loss``: over the judged candidates of a query, the pairs whose grades differ,
  each weighted by the grade difference: the weighted share the scores order wrongly (a tie
  in score counts half). 0 is a perfect order, 1 a reversed one; a query whose judged
  candidates share one grade has none. It looks at every judged pair, ranked in the top k or
  not, so every judged pair must have a score.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pairlm.errors import JudgementsError
from pairlm.search.corpus import json_objects

COLUMNS = ("query_id", "candidate_id", "grade")


@dataclass
class Judgements:
    """Graded (query, candidate) pairs; `rows` say where each came from, for messages."""

    grades: dict[tuple[str, str], float]
    source: str = "judgements"
    rows: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, Any, Any]], source: str = "judgements"):
        """From (query_id, candidate_id, grade) triples; row numbers start at 1."""
        j = cls({}, source)
        for n, (q, c, g) in enumerate(rows, start=1):
            j._add(n, q, c, g)
        if not j.grades:
            raise JudgementsError(f"{source}: no judgements")
        return j

    def _add(self, n: int, q: Any, c: Any, g: Any) -> None:
        where = f"{self.source}:{n}"
        for name, v in zip(COLUMNS, (q, c, g)):
            if v is None or (isinstance(v, str) and not v.strip()):
                raise JudgementsError(f"{where}: {name} is empty")
        try:
            grade = float(g)
        except (TypeError, ValueError):
            raise JudgementsError(f"{where}: grade {g!r} is not a number") from None
        if isinstance(g, bool) or not math.isfinite(grade):
            raise JudgementsError(f"{where}: grade {g!r} is not a finite number")
        key = (str(q).strip(), str(c).strip())
        if key in self.grades:
            raise JudgementsError(
                f"{where}: ({key[0]!r}, {key[1]!r}) is judged twice (first at row "
                f"{self.rows[key]}); give one grade per pair"
            )
        self.grades[key] = grade
        self.rows[key] = n

    def __len__(self) -> int:
        return len(self.grades)

    @property
    def queries(self) -> list[str]:
        return list(dict.fromkeys(q for q, _ in self.grades))

    def check_ids(
        self,
        query_ids: Iterable[str],
        candidate_ids: Iterable[str],
        queries: str = "the queries",
        candidates: str = "the candidates",
    ) -> None:
        """Raise `JudgementsError` naming the first row whose query or candidate is unknown."""
        qs, cs = set(query_ids), set(candidate_ids)
        for (q, c), n in sorted(self.rows.items(), key=lambda t: t[1]):
            if q not in qs:
                raise JudgementsError(f"{self.source}:{n}: query_id {q!r} is not in {queries}")
            if c not in cs:
                raise JudgementsError(
                    f"{self.source}:{n}: candidate_id {c!r} is not in {candidates}"
                )


def read_judgements(path: str | Path) -> Judgements:
    """Read ``query_id, candidate_id, grade`` rows: JSON lines with those keys, or CSV/TSV
    with that header (or no header and exactly those three columns)."""
    p = Path(path)
    if not p.is_file():
        raise JudgementsError(f"judgements file not found: {p}")
    j = Judgements({}, str(p))
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        _read_jsonl(p, j)
    else:
        _read_delimited(p, j)
    if not j.grades:
        raise JudgementsError(f"{p}: no judgements")
    return j


def _read_jsonl(p: Path, j: Judgements) -> None:
    for n, obj in json_objects(p, JudgementsError):
        missing = [c for c in COLUMNS if c not in obj]
        if missing:
            raise JudgementsError(f"{p}:{n}: no field {missing[0]!r}")
        j._add(n, *(obj[c] for c in COLUMNS))


def _read_delimited(p: Path, j: Judgements) -> None:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with p.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        f.seek(0)
        delim = "\t" if p.suffix.lower() == ".tsv" or "\t" in first else ","
        reader = csv.reader(f, delimiter=delim)
        header = [h.strip() for h in next(reader, [])]
        if not header:
            return
        rows: Iterable[list[str]] = reader
        if all(c in header for c in COLUMNS):
            cols, start = [header.index(c) for c in COLUMNS], 2
        elif len(header) == 3 and _is_number(header[2]):
            cols, start, rows = [0, 1, 2], 1, _chain(header, reader)
        else:
            raise JudgementsError(
                f"{p}: needs columns {', '.join(COLUMNS)} (a header naming them, or no header "
                f"and exactly three columns); found {header}"
            )
        for n, row in enumerate(rows, start=start):
            if not any(x.strip() for x in row):
                continue
            if max(cols) >= len(row):
                raise JudgementsError(f"{p}:{n}: {len(row)} fields, expected {len(header)}")
            j._add(n, *(row[i] for i in cols))


def _chain(first: list[str], rest: Iterable[list[str]]) -> Iterable[list[str]]:
    yield first
    yield from rest


def _is_number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------- per-query metrics
def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int) -> float | None:
    """nDCG@k of `ranked` (ids, best first); `gains` of the judged ids (others gain 0)."""
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = sum(gains.get(c, 0.0) * d for c, d in zip(ranked[:k], disc))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = float(np.dot(ideal, disc[: len(ideal)]))
    return None if idcg <= 0 else float(dcg / idcg)


def average_precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float | None:
    """AP@k: precision at the rank of each relevant id in the top k, summed, over
    ``min(len(relevant), k)``; None without relevant ids."""
    if not relevant:
        return None
    hits, total = 0, 0.0
    for i, c in enumerate(ranked[:k], start=1):
        if c in relevant:
            hits += 1
            total += hits / i
    return total / min(len(relevant), k)


def pairwise_loss(grades: Sequence[float], scores: Sequence[float]) -> float | None:
    """Share of the pairs with different grades that the scores order wrongly, each pair
    weighted by its grade difference (a score tie counts half); None without such pairs."""
    g = np.asarray(grades, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    dg = g[:, None] - g[None, :]
    upper = dg > 0  # pairs (i, j) where i is graded higher
    weight = dg[upper]
    if weight.size == 0:
        return None
    ds = (s[:, None] - s[None, :])[upper]
    wrong = (ds < 0) + 0.5 * (ds == 0)
    return float(np.dot(weight, wrong) / weight.sum())


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of `values` (resampled with replacement);
    None without values or resamples."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or n_boot < 1:
        return None
    if v.size == 1:
        return float(v.mean()), float(v.mean())
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            v[rng.integers(0, v.size, size=(min(256, n_boot - s), v.size))].mean(axis=1)
            for s in range(0, n_boot, 256)
        ]
    )
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def default_relevant_grade(judgements: Judgements) -> float:
    """The upper median of the distinct grades (3 on 1-5, 1 on 0/1)."""
    distinct = sorted(set(judgements.grades.values()))
    return distinct[len(distinct) // 2]


# ---------------------------------------------------------------------- the report
def evaluate_matching(
    rankings: Mapping[str, Sequence[str]],
    scores: Mapping[tuple[str, str], float],
    judgements: Judgements,
    *,
    k: int,
    relevant_grade: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """nDCG@k, MAP@k and the pairwise loss per judged query and overall (see the module
    docstring). `rankings`: each query's returned candidates, best first; `scores`: the score
    of every judged (query, candidate) pair (the one the ranking sorts by)."""
    missing = [key for key in judgements.grades if key not in scores]
    if missing:
        raise JudgementsError(f"judged pair {missing[0]} has no score; score every judged pair")
    rel = default_relevant_grade(judgements) if relevant_grade is None else float(relevant_grade)
    low = min(judgements.grades.values())
    names = (f"ndcg@{k}", f"map@{k}", "pairwise_loss")
    by_query: dict[str, dict[str, float]] = {}
    for (q, c), g in judgements.grades.items():
        by_query.setdefault(q, {})[c] = g
    per_query = []
    for q, judged in by_query.items():
        ranked = list(rankings.get(q, ()))
        cands = list(judged)
        values = (
            ndcg_at_k(ranked, {c: g - low for c, g in judged.items()}, k),
            average_precision_at_k(ranked, {c for c, g in judged.items() if g >= rel}, k),
            pairwise_loss([judged[c] for c in cands], [scores[(q, c)] for c in cands]),
        )
        row: dict[str, Any] = {"query_id": q, **dict(zip(names, values))}
        row.update(judged=len(judged), relevant=sum(g >= rel for g in judged.values()))
        per_query.append(row)
    overall = {}
    for name in names:
        vals = [r[name] for r in per_query if r[name] is not None]
        ci = bootstrap_ci(vals, n_boot, seed)
        overall[name] = {
            "mean": float(np.mean(vals)) if vals else None,
            "ci95": list(ci) if ci else None,
            "queries": len(vals),
        }
    return {
        "k": k,
        "relevant_grade": rel,
        "gain": f"grade - {low:g} (the lowest grade); unjudged candidates gain 0",
        "bootstrap": {"resamples": n_boot, "seed": seed, "level": 0.95, "over": "queries"},
        "judgements": {"pairs": len(judgements), "queries": len(by_query)},
        "metrics": overall,
        "per_query": per_query,
    }


def write_report(report: Mapping[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return p
