"""The report's "behaviour" section: the behavioural suite's failure rates per run (from
``DIR/behaviour/<run>.json``, written by an experiment's `[check]`), beside each run's F1, and
the text form of one `pairlm check` result."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pairlm.evaluation.stats import t_interval
from pairlm.experiments.checks import CHECK_DIR

AUGMENTATION_UNDER_TEST = "wordorder"
"""The augmentation whose effect the robustness table measures: a run's baseline is the run of
the same family and config without it."""
_RUNTIME_KEYS = {"checkpoint_dir", "num_threads", "progress", "device"}


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
        "| run | family | augment | F1 (CV) | mft mean | mft seen | mft unseen | inv mean | dir "
        "| symmetry |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        d = checks[n]
        s = d.get("summary", {})
        aug = d.get("config", {}).get("augment") or []
        aug_s = f"{', '.join(aug)} ×{d['config'].get('augment_ratio', 0.2)}" if aug else "none"
        lines.append(
            f"| {n} | {d.get('family', '')} | {aug_s} | {_f1(f1.get(n))} | "
            f"{_rate(s.get('mft_mean_failure_rate'))} | "
            f"{_rate(s.get('mft_seen_mean_failure_rate'))} | "
            f"{_rate(s.get('mft_unseen_mean_failure_rate'))} | {_rate(s.get('inv_mean_failure_rate'))} | "
            f"{_rate(s.get('dir_mean_failure_rate'))} | {_rate(s.get('symmetry_failure_rate'))} |"
        )
    tests = [t["name"] for t in first.get("tests", [])]
    lines += [
        "",
        "Failure rate per test:",
        "",
        "| test | kind | family | seen | " + " | ".join(names) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for t in tests:
        row = []
        kind = family = seen = ""
        for n in names:
            r = next((x for x in checks[n].get("tests", []) if x["name"] == t), None)
            row.append(_rate(r["failure_rate"]) if r else "–")
            if r:
                kind, family = r["kind"], r.get("family", "")
                seen = {True: "seen", False: "unseen"}.get(r.get("seen"), "")  # type: ignore[arg-type]
        lines.append(f"| {t} | {kind} | {family} | {seen} | " + " | ".join(row) + " |")
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
        f"On template families a training augmentation covers (seen): mft "
        f"{_rate(s.get('mft_seen_mean_failure_rate'))}, all tests "
        f"{_rate(s.get('seen_mean_failure_rate'))}; on families none covers (unseen): mft "
        f"{_rate(s.get('mft_unseen_mean_failure_rate'))}, all tests "
        f"{_rate(s.get('unseen_mean_failure_rate'))}. Word order: reorderings that change the "
        f"question {_rate(s.get('asymmetric_swap_failure_rate'))}, that keep it "
        f"{_rate(s.get('symmetric_swap_failure_rate'))}.",
        "",
        "| test | kind | family | seen | cases | failure rate | what it checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in doc.get("tests", []):
        seen = {True: "seen", False: "unseen"}.get(t.get("seen"), "")  # type: ignore[arg-type]
        lines.append(
            f"| {t['name']} | {t['kind']} | {t.get('family', '')} | {seen} | {t['n']} | "
            f"{t['failure_rate']:.3f} | {t['description']} |"
        )
    lines += ["", "Failing cases:", ""]
    for t in doc.get("tests", []):
        for ex in t.get("examples", []):
            lines.append(f"- `{t['name']}`: {example_text(ex)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- robustness table
def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without the augmentation under test and without runtime keys: what a run's
    baseline must equal."""
    out = {k: v for k, v in config.items() if k not in _RUNTIME_KEYS}
    kept = [k for k in out.get("augment", []) if str(k).split(":")[0] != AUGMENTATION_UNDER_TEST]
    if kept:
        out["augment"] = kept
    else:
        out.pop("augment", None)
        out.pop("augment_ratio", None)
    return out


def _augmented(config: dict[str, Any]) -> bool:
    return any(str(k).split(":")[0] == AUGMENTATION_UNDER_TEST for k in config.get("augment", []))


def baselines(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Each run trained with the augmentation under test -> the run of the same family whose
    config is the same without it (runtime keys aside); runs with none are left out."""
    out = {}
    for r in runs:
        cfg = r.get("config") or {}
        if not _augmented(cfg):
            continue
        for b in runs:
            bcfg = b.get("config") or {}
            if (
                b is not r
                and b.get("family") == r.get("family")
                and not _augmented(bcfg)
                and _identity(bcfg) == _identity(cfg)
            ):
                out[str(r["name"])] = str(b["name"])
                break
    return out


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _delta(run: dict[str, Any], base: dict[str, Any]) -> tuple[float, float, float] | None:
    """(mean, low, high) of the per-fold F1 differences run - base (95% t-interval), or None
    when the two do not hold the same number of folds (at least two)."""
    a, b = run.get("fold_f1") or [], base.get("fold_f1") or []
    if len(a) != len(b) or len(a) < 2:
        return None
    return t_interval([x - y for x, y in zip(a, b)])


def robustness_rows(
    checks: dict[str, dict[str, Any]], runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per run that has a check: QQP F1 and its CI, ΔF1 against its baseline (the
    same family without the augmentation under test) with the CI of the per-fold
    differences, and the suite's failure rates on seen and unseen families, on word-order
    swaps, and on symmetry. `runs`: summary.json's "runs" entries (name, family, config,
    f1_mean, f1_ci, fold_f1)."""
    by_name = {str(r["name"]): r for r in runs}
    base_of = baselines(runs)
    out = []
    for name, doc in checks.items():
        run = by_name.get(name, {})
        s = doc.get("summary", {})
        base = base_of.get(name)
        delta = _delta(run, by_name[base]) if base else None
        ci = run.get("f1_ci")
        out.append(
            {
                "run": name,
                "family": doc.get("family", run.get("family")),
                "augment": list((doc.get("config") or {}).get("augment") or []),
                "folds": len(run.get("fold_f1") or []),
                "f1": _num(run.get("f1_mean")),
                "f1_ci": [_num(v) for v in ci] if ci else None,
                "baseline": base,
                "delta_f1": None if delta is None else _num(delta[0]),
                "delta_f1_ci": None if delta is None else [_num(delta[1]), _num(delta[2])],
                "mft_seen": s.get("mft_seen_mean_failure_rate"),
                "mft_unseen": s.get("mft_unseen_mean_failure_rate"),
                "asymmetric_swaps": s.get("asymmetric_swap_failure_rate"),
                "symmetric_swaps": s.get("symmetric_swap_failure_rate"),
                "symmetry": s.get("symmetry_failure_rate"),
            }
        )
    return out


def _ci(x: Any) -> str:
    if not x or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in x):
        return ""
    return f" [{x[0]:.4f}, {x[1]:.4f}]"


def _signed(x: Any) -> str:
    return "–" if x is None else f"{x:+.4f}"


def robustness_markdown(rows: list[dict[str, Any]]) -> str:
    """The issue-44 table: per run, F1 [CI], ΔF1 vs the same family without the word-order
    augmentation [CI], suite failure on seen and unseen template families, word-order swaps
    and symmetry."""
    if not rows:
        return ""
    lines = [
        "",
        "### Robustness and its cost",
        "",
        f"Per run: QQP F1 over its folds [95% t-interval]; ΔF1 against the same family and "
        f"config without the `{AUGMENTATION_UNDER_TEST}` augmentation [95% t-interval of the "
        "per-fold differences]; the behavioural suite's mean mft failure rate on template "
        "families a training augmentation covers (seen) and on those none covers (unseen); "
        "mean failure on word-order swaps that change the question (asymmetric) and that keep "
        "it (symmetric); and the share of pairs whose score moves when the two texts swap.",
        "",
        "| run | family | F1 [CI] | ΔF1 [CI] | mft seen | mft unseen | asymmetric swaps "
        "| symmetric swaps | symmetry |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f1 = "–" if r["f1"] is None else f"{r['f1']:.4f}{_ci(r['f1_ci'])}"
        d = (
            "–"
            if r["delta_f1"] is None
            else f"{_signed(r['delta_f1'])}{_ci(r['delta_f1_ci'])} vs {r['baseline']}"
        )
        lines.append(
            f"| {r['run']} | {r['family']} | {f1} | {d} | {_rate(r['mft_seen'])} | "
            f"{_rate(r['mft_unseen'])} | {_rate(r['asymmetric_swaps'])} | "
            f"{_rate(r['symmetric_swaps'])} | {_rate(r['symmetry'])} |"
        )
    return "\n".join(lines) + "\n"
