"""Results tables in a Markdown file (the README), generated from committed `summary.json`s.

A table sits between `<!-- pairlm:NAME:begin -->` and `<!-- pairlm:NAME:end -->`, where NAME
names the summary (e.g. `qqp-cv` for `results/qqp-cv/summary.json`). Regenerate with

    python -m pairlm.report.readme README.md results/qqp-cv/summary.json [...]

and `check` (the test suite runs it) fails when a table no longer matches its summary.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any


def _f(x: Any, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _p(x: Any) -> str:
    if x is None:
        return "—"
    return "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def render(summary: dict[str, Any]) -> str:
    """The runs table (best F1 first), the comparisons table and (where the summary has them)
    the learning curves of a summary."""
    lines = [
        "| run | family | folds | train pairs/fold | test pairs/fold | F1 | 95% CI | SD | ROC-AUC "
        "| fit s/fold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["runs"]:
        lines.append(
            f"| {r['name']} | {r['family']} | {r['folds']}/{r['folds_total']} "
            f"| {r['n_train_per_fold']:,.0f} | {r['n_test_per_fold']:,.0f} | {_f(r['f1_mean'])} "
            f"| [{_f(r['f1_ci'][0])}, {_f(r['f1_ci'][1])}] | {_f(r['f1_sd'])} "
            f"| {_f(r.get('auc_mean'))} | {_f(r.get('fit_seconds_per_fold'), 0)} |"
        )
    comps = summary.get("comparisons", [])
    if comps:
        lines += [
            "",
            "| a | b | folds | ΔF1 (a − b) | 95% CI | P corrected t (Holm) | P McNemar (Holm) "
            "| pairs |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in comps:
            lo, hi = c["delta_f1_ci"]
            lines.append(
                f"| {c['a']} | {c['b']} | {c['n_folds']} | {_f(c['delta_f1'])} "
                f"| [{_f(lo)}, {_f(hi)}] | {_p(c['p_corrected_t_holm'])} "
                f"| {_p(c['p_mcnemar_holm'])} | {c['n_pairs']:,} |"
            )
    if summary.get("learning_curves"):
        lines += ["", curves_table(summary["learning_curves"])]
    return "\n".join(lines)


def curves_table(entries: list[dict[str, Any]]) -> str:
    """The learning-curve table of `summary.json`'s `learning_curves` (`report.curves`)."""
    lines = [
        "| series | points (pairs/fold: F1 [95% CI], folds) | F1 per doubling | extrapolated F1 |",
        "|---|---|---|---|",
    ]
    for e in entries:
        pts = "; ".join(
            f"{p['n_train_per_fold']:,.0f}: {_f(p['f1_mean'])} [{_f(p['f1_ci'][0])}, "
            f"{_f(p['f1_ci'][1])}], {p['folds']}/{p['folds_total']}"
            for p in e["points"]
        )
        ext = e["extrapolated"]
        slope = e["f1_per_doubling"]
        per = "—" if slope is None else f"{slope:+.3f}"
        far = "—" if ext is None else f"{_f(ext['f1'])} at {ext['n_train_per_fold']:,}"
        lines.append(f"| {e['series']} | {pts} | {per} | {far} |")
    return "\n".join(lines)


def _pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(rf"(<!-- pairlm:{n}:begin -->\n)(.*?)(<!-- pairlm:{n}:end -->)", re.S)


def _name(summary_path: Path) -> str:
    return summary_path.parent.name


def update(markdown: Path, summaries: list[Path]) -> list[str]:
    """Rewrite the tables of `summaries` in `markdown`; returns the names updated."""
    text = markdown.read_text(encoding="utf-8")
    done = []
    for s in summaries:
        name = _name(s)
        pat = _pattern(name)
        if not pat.search(text):
            raise ValueError(f"{markdown}: no <!-- pairlm:{name}:begin/end --> block")
        table = render(json.loads(s.read_text(encoding="utf-8"))) + "\n"
        m = pat.search(text)
        assert m is not None
        text = text[: m.start(2)] + table + text[m.end(2) :]
        done.append(name)
    markdown.write_text(text, encoding="utf-8")
    return done


def check(markdown: Path, summaries: list[Path]) -> list[str]:
    """Names whose table in `markdown` differs from what its summary renders."""
    text = markdown.read_text(encoding="utf-8")
    stale = []
    for s in summaries:
        m = _pattern(_name(s)).search(text)
        if m is None or m.group(2) != render(json.loads(s.read_text(encoding="utf-8"))) + "\n":
            stale.append(_name(s))
    return stale


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m pairlm.report.readme FILE.md SUMMARY.json [...]", file=sys.stderr)
        return 2
    for name in update(Path(args[0]), [Path(a) for a in args[1:]]):
        print(f"updated the {name} table in {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
