"""Results tables in Markdown files (the docs' results pages, the README's headline table),
generated from committed `summary.json`s.

A table sits between `<!-- pairlm:NAME:begin -->` and `<!-- pairlm:NAME:end -->`. `render`
makes a summary's full tables (every run, every comparison, the learning curves) and
`headline` the "which model" table; `pairlm.report.docs` places them in the pages
(`python -m pairlm.report.docs`, which the tests run with `--check`). For a file of one's
own, `python -m pairlm.report.readme FILE.md results/NAME/summary.json [...]` fills the
blocks named NAME.
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


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config without `checkpoint_dir` (where trainings are kept, not what they are),
    members' configs included."""
    out = {k: v for k, v in config.items() if k != "checkpoint_dir"}
    if isinstance(out.get("members"), list):
        out["members"] = [{**m, "config": _identity(m.get("config") or {})} for m in out["members"]]
    return out


def _rate(x: Any) -> str:
    return "—" if x is None else (f"{x:,.0f}" if x >= 10 else f"{x:.1f}")


def headline(summary: dict[str, Any], shipped: dict[str, dict[str, Any]]) -> str:
    """The "which model" table: the runs of `summary` that a user can train as they were
    measured, with a shipped config file (`shipped`: path -> its keys) or the family's
    defaults, best F1 first. An ensemble's training time is its own; members that resumed
    the finished trainings of their own runs (`checkpoint_dir`) add those runs' times."""
    runs = summary["runs"]
    lines = [
        "| model | `pairlm train` with | 10-fold F1 [95% CI] | ROC-AUC | training s/fold "
        "| scoring pairs/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        cfg = _identity(r["config"])
        files = sorted(f for f, c in shipped.items() if _identity(c) == cfg)
        if files:
            how = f"`--model {r['family']} --config {files[0]}`"
        elif not cfg:
            how = f"`--model {r['family']}`"
        else:
            continue
        train = f"{r['fit_seconds_per_fold']:,.0f}"
        reused = [
            q
            for m in r["config"].get("members", [])
            if "checkpoint_dir" in (m.get("config") or {})
            for q in runs
            if q is not r
            and q["family"] == m["family"]
            and _identity(q["config"]) == _identity(m.get("config") or {})
            and q["n_train_per_fold"] == r["n_train_per_fold"]
        ]
        if reused:
            train += " + " + " + ".join(
                f"{q['fit_seconds_per_fold']:,.0f} ({q['name']})" for q in reused
            )
        lo, hi = r["f1_ci"]
        lines.append(
            f"| {r['name']} | {how} | {_f(r['f1_mean'])} [{_f(lo)}, {_f(hi)}] "
            f"| {_f(r.get('auc_mean'))} | {train} | {_rate(r.get('pairs_per_second'))} |"
        )
    return "\n".join(lines)


def _pattern(name: str) -> re.Pattern[str]:
    """A block between `<!-- pairlm:NAME:begin -->` and `<!-- pairlm:NAME:end -->` lines
    (Markdown) or `# pairlm:NAME:begin` and `# pairlm:NAME:end` comment lines (YAML, where
    the markers may be indented)."""
    n = re.escape(name)
    begin = rf"(?:<!-- pairlm:{n}:begin -->|[ \t]*# pairlm:{n}:begin[^\n]*)"
    end = rf"[ \t]*(?:<!-- pairlm:{n}:end -->|# pairlm:{n}:end)"
    return re.compile(rf"({begin}\n)(.*?)({end})", re.S)


def _name(summary_path: Path) -> str:
    return summary_path.parent.name


def has_block(text: str, name: str) -> bool:
    """Whether `text` holds the `<!-- pairlm:NAME:begin/end -->` block."""
    return _pattern(name).search(text) is not None


def replace_blocks(text: str, blocks: dict[str, str], where: str = "the file") -> str:
    """`text` with each block NAME's content replaced by `blocks[NAME]` (plus a newline);
    ValueError when a block is missing."""
    for name, content in blocks.items():
        m = _pattern(name).search(text)
        if m is None:
            raise ValueError(f"{where}: no <!-- pairlm:{name}:begin/end --> block")
        text = text[: m.start(2)] + content + "\n" + text[m.end(2) :]
    return text


def stale_blocks(text: str, blocks: dict[str, str]) -> list[str]:
    """Names of `blocks` whose block in `text` is missing or holds something else."""
    stale = []
    for name, content in blocks.items():
        m = _pattern(name).search(text)
        if m is None or m.group(2) != content + "\n":
            stale.append(name)
    return stale


def _rendered(summaries: list[Path]) -> dict[str, str]:
    return {_name(s): render(json.loads(s.read_text(encoding="utf-8"))) for s in summaries}


def update(markdown: Path, summaries: list[Path]) -> list[str]:
    """Rewrite the tables of `summaries` in `markdown`; returns the names updated."""
    blocks = _rendered(summaries)
    text = replace_blocks(markdown.read_text(encoding="utf-8"), blocks, str(markdown))
    markdown.write_text(text, encoding="utf-8")
    return list(blocks)


def check(markdown: Path, summaries: list[Path]) -> list[str]:
    """Names whose table in `markdown` differs from what its summary renders."""
    return stale_blocks(markdown.read_text(encoding="utf-8"), _rendered(summaries))


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
