"""`report.html`: one self-contained page (figures inlined as base64 PNG, no external CSS or
JS) with what `report.md` holds — protocol, data and its validation report, caveats, the
paper-style table — plus the figures and the error analysis.

Runs are grouped by the pairs they were scored on (their split key: dataset, subsample,
folds, seed); each group gets its own table, with P values against the group's reference,
and its own figures.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from pairlm.evaluation.store import ResultStore, RunInfo
from pairlm.report import curves, plots
from pairlm.report.tables import (
    TABLE_COLUMNS,
    RunSummary,
    dataset_infos,
    summarize,
    table_rows,
)

log = logging.getLogger(__name__)

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1250px;padding:0 1.2em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #333;padding-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.28em .55em;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.l,th.l{text-align:left}tr:nth-child(even) td{background:#fafafa}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.figs figure{margin:0;border:1px solid #e3e3e3;padding:.4em;background:#fff;flex:1 1 520px;max-width:610px}
figcaption{font-size:.85em;color:#555;max-width:640px}
img{max-width:100%;height:auto}
.note{color:#555;font-size:.9em}.caveat{background:#fff6e0;border-left:4px solid #e0a000;
padding:.5em .8em;margin:.4em 0}
td.text{text-align:left;max-width:430px;font-size:.92em}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
code{background:#f3f3f3;padding:0 .25em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: float, d: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def _img(fig: Any, alt: str, caption: str) -> str:
    data = base64.b64encode(plots.to_png(fig)).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = []
    for r in rows:
        body.append(
            "<tr>"
            + "".join(
                f'<td class="{"l" if i < left else ""}">{_e(c)}</td>' for i, c in enumerate(r)
            )
            + "</tr>"
        )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _protocol_text(proto: dict[str, Any]) -> str:
    from pairlm.evaluation.cv import Protocol

    try:
        return Protocol(**proto).describe()
    except (TypeError, ValueError):
        return json.dumps(proto, sort_keys=True)


def _pooled(store: ResultStore, run: RunInfo) -> plots.Pooled:
    p = store.predictions(run.run_id)
    return plots.Pooled(run.name, p["label"], p["proba"], p["threshold"])


def _data_section(store: ResultStore, runs: list[RunInfo]) -> str:
    out = ["<h2>Data</h2><ul>"]
    for dataset, info in dataset_infos(store, runs):
        n, pos = info["n_pairs"], info["positives"]
        out.append(
            f"<li><code>{_e(dataset)}</code> (read as <code>{_e(info['source'])}</code>): "
            f"{n:,} pairs, {pos:,} matches ({pos / max(1, n):.1%})"
        )
        rep = info.get("report")
        if rep:
            out.append(
                "<br><span class='note'>validation: read {}, kept {}, dropped {} {}, repaired {} {}"
                "</span>".format(
                    rep.get("rows_read"),
                    rep.get("rows_kept"),
                    rep.get("rows_dropped"),
                    _e(dict(rep.get("dropped", {})) or ""),
                    rep.get("rows_repaired"),
                    _e(dict(rep.get("repaired", {})) or ""),
                )
            )
            if rep.get("side_file"):
                out.append(
                    f"<br><span class='note'>dropped rows kept in "
                    f"<code>{_e(rep['side_file'])}</code></span>"
                )
        out.append("</li>")
    out.append("</ul>")
    return "".join(out)


def _results_table(summaries: list[RunSummary]) -> str:
    rows = table_rows(summaries)
    parts = [_table(list(TABLE_COLUMNS), rows, left=2)]
    partial = [s for s in summaries if not s.complete]
    if partial:
        parts.append(
            "<p class='note'>Unfinished runs (mean over the folds done): "
            + _e(", ".join(f"{s.name} ({s.folds_done}/{s.folds_total})" for s in partial))
            + "</p>"
        )
    extra = [
        [
            s.name,
            f"[{_fmt(s.f1_bootstrap_ci[0])}, {_fmt(s.f1_bootstrap_ci[1])}]",
            _fmt(s.f1_sd),
            _fmt(s.means.get("average_precision", math.nan)),
            _fmt(s.means.get("mcc", math.nan)),
            _fmt(s.means.get("log_loss", math.nan)),
            f"{s.n_train:.0f}",
            f"{s.n_test:.0f}",
            f"{s.predict_seconds:.1f}",
            ", ".join(_fmt(x, 3) for x in s.fold_f1),
        ]
        for s in sorted(summaries, key=lambda s: -s.means["f1"])
    ]
    parts.append(
        "<details><summary>More per-run figures</summary>"
        + _table(
            [
                "method",
                "F1 bootstrap 95% CI (pooled)",
                "F1 sd",
                "avg. precision",
                "MCC",
                "log-loss",
                "train pairs/fold",
                "test pairs/fold",
                "score s/fold",
                "F1 per fold",
            ],
            extra,
        )
        + "</details>"
    )
    return "".join(parts)


def _learning_curves(
    summaries: list[RunSummary], runs: dict[str, RunInfo], transfer_ids: set[int]
) -> str:
    series = curves.series(summaries, runs, transfer_ids)
    if not series:
        return ""
    rows = [
        [label, p.name, f"{p.n_train:.0f}", _fmt(p.f1), f"[{_fmt(p.ci[0])}, {_fmt(p.ci[1])}]"]
        for label, pts in series.items()
        for p in pts
    ]
    return (
        "<h2>F1 against training-set size</h2>"
        "<p class='note'>Runs of one family with one config on one dataset that differ only in "
        "<code>max_train</code> / <code>subsample</code>.</p>"
        "<div class='figs'>"
        + _img(
            plots.learning_curve(series),
            "learning curve",
            "Mean F1 over folds (band: 95% CI) against the training pairs per fold.",
        )
        + "</div>"
        + _table(["series", "run", "train pairs/fold", "F1", "95% CI"], rows, left=2)
    )


def _error_section(store: ResultStore, group_runs: list[RunInfo], best: str, k: int) -> str:
    from pairlm.report.errors import analyse_runs

    errs = analyse_runs(store, group_runs, k=k)
    if not errs:
        return ""
    parts = []
    any_texts = any(e.has_texts for e in errs.values())
    if any_texts:
        first = next(e for e in errs.values() if e.has_texts)
        for attr, title, xlabel in (
            ("by_length", "F1 by pair length", "words in both texts (quantile buckets)"),
            ("by_overlap", "F1 by word overlap", "Jaccard overlap of the two texts' word sets"),
        ):
            buckets = [b.bucket for b in getattr(first, attr)]
            counts = [b.n for b in getattr(first, attr)]
            f1s = {
                name: [b.f1 for b in getattr(e, attr)] for name, e in errs.items() if e.has_texts
            }
            fig = plots.bucket_f1(buckets, f1s, counts, title, xlabel)
            rows = [
                [b, str(counts[i]), *[_fmt(f1s[n][i], 3) for n in f1s]]
                for i, b in enumerate(buckets)
            ]
            parts.append(
                "<div class='figs'>"
                + _img(
                    fig,
                    title,
                    f"{title}: F1 of each run within each bucket (pooled "
                    "out-of-fold predictions, each fold's threshold); grey bars: pairs.",
                )
                + "<div>"
                + _table(["bucket", "pairs", *f1s], rows)
                + "</div></div>"
            )
    else:
        parts.append(
            "<p class='note'>The pair texts of these runs are not in the store "
            "(they are recorded by <code>pairlm run</code>); no length/overlap "
            "analysis or texts.</p>"
        )
    order = [best] + [n for n in errs if n != best]
    for name in order:
        if name not in errs:
            continue
        e = errs[name]
        blocks = []
        for kind, exs, what in (
            ("false positives", e.false_positives, "highest P(match) among non-matches"),
            ("false negatives", e.false_negatives, "lowest P(match) among matches"),
        ):
            rows = [
                [x.pair_id, f"{x.proba:.4f}", f"{x.threshold:.3f}", str(x.fold), x.text_a, x.text_b]
                for x in exs
            ]
            head = ["pair id", "P(match)", "threshold", "fold", "text a", "text b"]
            tbl = _table(head, rows).replace('<td class="">', '<td class="text">')
            blocks.append(
                f"<h4>Most confident {kind} ({what})</h4>"
                + (tbl if rows else "<p class='note'>none</p>")
            )
        is_open = " open" if name == best else ""
        parts.append(f"<details{is_open}><summary>{_e(name)}</summary>{''.join(blocks)}</details>")
    return "".join(parts)


def _behaviour_section(checks: dict[str, dict[str, Any]], f1: dict[str, float]) -> str:
    """The behavioural suite's failure rates per run (an experiment's `[check]`)."""
    if not checks:
        return ""
    names = list(checks)
    first = checks[names[0]]
    suite = first.get("suite", {})

    def rate(x: Any) -> str:
        return "–" if x is None else f"{x:.3f}"

    rows = []
    for n in names:
        d, s = checks[n], checks[n].get("summary", {})
        aug = d.get("config", {}).get("augment") or []
        rows.append(
            [
                n,
                str(d.get("family", "")),
                f"{', '.join(aug)} ×{d['config'].get('augment_ratio', 0.2)}" if aug else "none",
                _fmt(f1[n]) if n in f1 else "–",
                rate(s.get("mft_mean_failure_rate")),
                rate(s.get("mft_seen_mean_failure_rate")),
                rate(s.get("mft_unseen_mean_failure_rate")),
                rate(s.get("inv_mean_failure_rate")),
                rate(s.get("dir_mean_failure_rate")),
                rate(s.get("symmetry_failure_rate")),
            ]
        )
    per_test = []
    for t in first.get("tests", []):
        row = [t["name"], t["kind"]]
        for n in names:
            r = next((x for x in checks[n].get("tests", []) if x["name"] == t["name"]), None)
            row.append(rate(r["failure_rate"]) if r else "–")
        per_test.append(row)
    return (
        "<h2>Behaviour</h2>"
        f"<p class='note'>The behavioural suite (<code>pairlm check</code>; {_e(suite.get('n'))} "
        f"cases per test, seed {_e(suite.get('seed'))}, invariance tolerance "
        f"{_e(suite.get('tolerance'))}) on each run's fold-{_e(first.get('fold', 0))} model. "
        "Failure rate: the share of a test's cases the model gets wrong (lower is better); F1: "
        "the run's cross-validated F1.</p>"
        + _table(
            [
                "run",
                "family",
                "augment",
                "F1 (CV)",
                "mft mean",
                "mft seen",
                "mft unseen",
                "inv mean",
                "dir",
                "symmetry",
            ],
            rows,
            left=3,
        )
        + _table(["test", "kind", *names], per_test, left=2)
    )


def _protocol_section(
    groups: dict[str, list[str]], run_by_name: dict[str, Any], transfers: dict[int, Any]
) -> str:
    """The Protocol section: each group's protocol and data, then how the figures are made."""
    body = ["<h2>Protocol</h2><ul>"]
    for names in groups.values():
        r0 = run_by_name[names[0]]
        tr = transfers.get(r0.run_id)
        where = (
            f"trained fold by fold on <code>{_e(tr['source_dataset'])}</code>, scored on "
            f"the same-numbered folds of <code>{_e(tr['target_dataset'])}</code>"
            if tr
            else f"on <code>{_e(r0.dataset)}</code>"
        )
        body.append(
            f"<li>{_e(_protocol_text(r0.protocol))}; {where} (runs: {_e(', '.join(names))})</li>"
        )
    body.append(
        "<li>F1 of the positive (match) class at a threshold chosen on validation data only; "
        "95% CI by the t distribution over folds; P values against each group's reference run "
        "(the given one, else the best mean F1 among complete runs): Nadeau-Bengio corrected "
        "resampled t-test and exact McNemar on pooled out-of-fold predictions, each "
        "on the folds and pairs the run shares with the reference, both Holm-adjusted.</li></ul>"
    )
    return "".join(body)


def _results_group(
    store: ResultStore,
    names: list[str],
    reference: str | None,
    run_by_name: dict[str, Any],
    transfers: dict[int, Any],
) -> tuple[str, list[RunSummary], str]:
    """One group of runs scored on the same pairs: its results table and figures, its
    summaries and its reference run (the given one, else the best)."""
    ref = reference if reference in names else None
    summaries = summarize(store, ref, runs=names)
    r0 = run_by_name[names[0]]
    title = r0.dataset.rstrip("/").split("/")[-1]
    tr = transfers.get(r0.run_id)
    if tr:
        title = f"{tr['source_dataset'].rstrip('/').split('/')[-1]} → {title}"
    folds = int(r0.protocol.get("folds", 0))
    sub = r0.protocol.get("subsample")
    title += f" ({folds} folds" + (f", subsample {sub}" if sub else "") + ")"
    best = next(
        (str(s.comparison["reference"]) for s in summaries if s.comparison.get("reference")),
        None,
    )
    if best is None:
        best = max(summaries, key=lambda s: (s.complete, s.means["f1"])).name
    pooled = [
        _pooled(store, run_by_name[s.name]) for s in sorted(summaries, key=lambda s: -s.means["f1"])
    ]
    figs = [
        _img(
            plots.f1_per_method(summaries, f"F1 per method — {title}"),
            "F1 per method",
            "Mean F1 with its 95% CI over folds (blue) and each fold's F1 (grey).",
        ),
        _img(
            plots.pr_curves(pooled),
            "precision-recall curves",
            "Precision-recall curves of the pooled out-of-fold predictions; dots: the "
            "operating points at the thresholds chosen on validation data.",
        ),
        _img(
            plots.reliability_diagram(pooled),
            "reliability diagram",
            "Observed match rate per bin of predicted P(match) (10 equal-width bins), "
            "expected calibration error in the legend; below: how predictions spread.",
        ),
    ]
    html = (
        f"<h3>{_e(title)}</h3>"
        + _results_table(summaries)
        + "<div class='figs'>"
        + "".join(figs)
        + "</div>"
    )
    return html, summaries, str(best)


def _error_analysis(
    store: ResultStore,
    group_info: list[tuple[str, list[RunSummary], str]],
    run_by_name: dict[str, Any],
    k_errors: int,
) -> str:
    """The Error analysis section: each group's most confident errors (a group whose
    analysis fails says so, the rest of the report stands)."""
    body = ["<h2>Error analysis</h2>"]
    for key, summaries, best_run in group_info:
        group_runs = [run_by_name[s.name] for s in sorted(summaries, key=lambda s: -s.means["f1"])]
        r0 = group_runs[0]
        body.append(
            f"<h3>{_e(r0.dataset.rstrip('/').split('/')[-1])} — runs "
            f"{_e(', '.join(r.name for r in group_runs))}</h3>"
        )
        try:
            body.append(_error_section(store, group_runs, best_run, k_errors))
        except Exception as e:
            log.warning("error analysis of %s failed: %s", key, e, exc_info=True)
            body.append(f"<p class='note'>error analysis failed: {_e(e)}</p>")
    return "".join(body)


def build_html(
    store: ResultStore,
    reference: str | None = None,
    k_errors: int = 8,
    checks: dict[str, dict[str, Any]] | None = None,
    source: str | None = None,
    name: str | None = None,
) -> str:
    """The report page as a string (`checks`: behavioural results by run, for a Behaviour
    section; default: those next to the store; `source`: what the report is of, default the
    store's directory; `name`: the page title's, default the store directory's name)."""
    runs_all = store.runs()
    run_by_name = {r.name: r for r in runs_all}
    transfers = store.transfers()
    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>pairlm results — {_e(name or store.directory.name)}</title><style>{_CSS}</style></head>"
        "<body><h1>pairlm results</h1>"
        f"<p class='note'>{_e(source or store.directory)} · generated "
        f"{_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}</p>"
    )
    summaries_all = summarize(store, None, bootstrap=0)
    if not summaries_all:
        return head + "<p>No finished folds in this store yet.</p></body></html>"
    if reference is not None and reference not in run_by_name:
        raise KeyError(
            f"reference run {reference!r} not in the store; runs: {', '.join(run_by_name)}"
        )
    groups: dict[str, list[str]] = defaultdict(list)
    for s in summaries_all:
        groups[s.split_key].append(s.name)
    body = [_protocol_section(groups, run_by_name, transfers)]
    body.append(_data_section(store, runs_all))
    caveats = sorted({c for s in summaries_all for c in s.caveats})
    if caveats:
        body.append(
            "<h2>Caveats</h2>" + "".join(f"<div class='caveat'>{_e(c)}</div>" for c in caveats)
        )
    # results and figures, per group of runs scored on the same pairs
    body.append("<h2>Results</h2>")
    group_info: list[tuple[str, list[RunSummary], str]] = []
    for key, names in groups.items():
        html, summaries, best = _results_group(store, names, reference, run_by_name, transfers)
        group_info.append((key, summaries, best))
        body.append(html)
    body.append(_learning_curves(summaries_all, run_by_name, set(transfers)))
    if checks is None:
        from pairlm.report.behaviour import load_checks

        checks = load_checks(store.directory)
    body.append(_behaviour_section(checks, {s.name: s.means["f1"] for s in summaries_all}))
    body.append(_error_analysis(store, group_info, run_by_name, k_errors))
    body.append(f"<p class='note'>Made by pairlm: {_e(source or store.path)}.</p></body></html>")
    return head + "".join(body)


def write_html(
    store: ResultStore,
    path: str | Path,
    reference: str | None = None,
    checks: dict[str, dict[str, Any]] | None = None,
    *,
    source: str | None = None,
    name: str | None = None,
) -> Path:
    """Write the self-contained `report.html` for `store` to `path`; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = build_html(store, reference, checks=checks, source=source, name=name)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target


__all__ = ["build_html", "write_html"]
