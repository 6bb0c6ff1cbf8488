"""The report's "behaviour" section: the behavioural suite's failure rates per run (from
``DIR/behaviour/<run>.json``, written by an experiment's `[check]`), beside each run's F1, and
the text form of one `pairlm check` result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pairlm.experiments.checks import CHECK_DIR


def load_checks(directory: str | Path, runs: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The check files under `directory`/behaviour, by run name (only `runs` where given)."""
    root = Path(directory) / CHECK_DIR
    out: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = str(doc.get("run", path.stem))
        if runs is None or name in runs:
            out[name] = doc
    return out


def _rate(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}"


def _f1(s: Any) -> str:
    return "–" if s is None else f"{s:.4f}"


def behaviour_markdown(
    checks: dict[str, dict[str, Any]], f1: dict[str, float] | None = None
) -> str:
    """Markdown: one table of mean failure rates (with each run's cross-validated F1), one of
    the per-test failure rates, and a failing example of each test for each run."""
    if not checks:
        return ""
    f1 = f1 or {}
    names = list(checks)
    first = checks[names[0]]
    suite = first.get("suite", {})
    lines = [
        "",
        "## Behaviour",
        "",
        f"The behavioural suite (`pairlm check`; {suite.get('n')} cases per test, seed "
        f"{suite.get('seed')}, invariance tolerance {suite.get('tolerance')}) on each run's "
        f"fold-{first.get('fold', 0)} model. Failure rate: the share of a test's cases the model "
        "gets wrong (mft: a wrong decision at its threshold; inv: a score that moves by more "
        "than the tolerance; dir: a score that does not go down). Lower is better; the F1 is "
        "the run's cross-validated F1 on the experiment's data.",
        "",
        "| run | family | augment | F1 (CV) | mft mean | inv mean | dir | symmetry |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        d = checks[n]
        s = d.get("summary", {})
        aug = d.get("config", {}).get("augment") or []
        aug_s = f"{', '.join(aug)} ×{d['config'].get('augment_ratio', 0.2)}" if aug else "none"
        lines.append(
            f"| {n} | {d.get('family', '')} | {aug_s} | {_f1(f1.get(n))} | "
            f"{_rate(s.get('mft_mean_failure_rate'))} | {_rate(s.get('inv_mean_failure_rate'))} | "
            f"{_rate(s.get('dir_mean_failure_rate'))} | {_rate(s.get('symmetry_failure_rate'))} |"
        )
    tests = [t["name"] for t in first.get("tests", [])]
    lines += [
        "",
        "Failure rate per test:",
        "",
        "| test | kind | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for t in tests:
        row = []
        kind = ""
        for n in names:
            r = next((x for x in checks[n].get("tests", []) if x["name"] == t), None)
            row.append(_rate(r["failure_rate"]) if r else "–")
            kind = r["kind"] if r else kind
        lines.append(f"| {t} | {kind} | " + " | ".join(row) + " |")
    lines += ["", "What each test checks:", ""]
    for t in first.get("tests", []):
        lines.append(f"- `{t['name']}` ({t['kind']}, {t['capability']}): {t['description']}")
    lines += ["", "A failing case of each test, per run:", ""]
    for n in names:
        lines.append(f"- **{n}**:")
        for t in checks[n].get("tests", []):
            if t.get("examples"):
                lines.append(f"  - `{t['name']}`: {example_text(t['examples'][0])}")
    return "\n".join(lines) + "\n"


def example_text(ex: dict[str, Any]) -> str:
    if "base" in ex:
        return (
            f"{ex['base'][0]!r} / {ex['base'][1]!r} ({ex['base_score']:.3f}) → "
            f"{ex['changed'][0]!r} / {ex['changed'][1]!r} ({ex['score']:.3f})"
        )
    return f"{ex['text_a']!r} / {ex['text_b']!r} (score {ex['score']:.3f})"


def behaviour_summary(checks: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """`summary.json`'s "behaviour": per run, its summary and per-test failure rates."""
    return [
        {
            "run": n,
            "family": d.get("family"),
            "config": d.get("config", {}),
            "fold": d.get("fold"),
            "suite": d.get("suite"),
            "augmented": d.get("augmented"),
            **d.get("summary", {}),
            "failure_rates": {t["name"]: t["failure_rate"] for t in d.get("tests", [])},
        }
        for n, d in checks.items()
    ]


def check_markdown(doc: dict[str, Any]) -> str:
    """`check.md`: one `pairlm check` result (the dict `BehaviourReport.to_dict` makes)."""
    suite, s = doc.get("suite", {}), doc.get("summary", {})
    lines = [
        f"# pairlm check: {doc.get('model_dir', '')} ({doc.get('model', {}).get('family', '')})",
        "",
        f"{suite.get('n')} cases per test, seed {suite.get('seed')}, invariance tolerance "
        f"{suite.get('tolerance')}. Mean failure rate: mft {_rate(s.get('mft_mean_failure_rate'))}, "
        f"inv {_rate(s.get('inv_mean_failure_rate'))}, dir {_rate(s.get('dir_mean_failure_rate'))}; "
        f"symmetry {_rate(s.get('symmetry_failure_rate'))}.",
        "",
        "| test | kind | cases | failure rate | what it checks |",
        "|---|---|---|---|---|",
    ]
    for t in doc.get("tests", []):
        lines.append(
            f"| {t['name']} | {t['kind']} | {t['n']} | {t['failure_rate']:.3f} | {t['description']} |"
        )
    lines += ["", "Failing cases:", ""]
    for t in doc.get("tests", []):
        for ex in t.get("examples", []):
            lines.append(f"- `{t['name']}`: {example_text(ex)}")
    return "\n".join(lines) + "\n"
