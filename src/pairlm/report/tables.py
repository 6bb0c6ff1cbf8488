"""The paper-style results table, computed from a results store."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairlm.evaluation.metrics import METRIC_NAMES as MEAN_METRICS
from pairlm.evaluation.store import ResultStore, RunInfo


@dataclass
class RunSummary:
    name: str
    family: str
    backbone: str
    folds_done: int
    folds_total: int
    n_train: float
    n_test: float
    means: dict[str, float]
    f1_sd: float
    f1_ci: tuple[float, float]
    f1_bootstrap_ci: tuple[float, float]
    fit_seconds: float
    predict_seconds: float
    pairs_per_second: float
    caveats: list[str]
    protocol: dict[str, Any]
    split_key: str
    comparison: dict[str, float] = field(default_factory=dict)
    fold_f1: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.folds_done == self.folds_total


# The packaged LLMs are quantised GGUF files, dequantised to float: at 135M-270M parameters
# the 4-bit weights matter, so the report names them.
_PACKAGED_BACKBONES = {
    "smollm2": "SmolLM2-135M (GGUF Q4_1)",
    "gemma3-270m": "Gemma-3-270M (GGUF Q4_K_M)",
}


def _backbone(run: RunInfo) -> str:
    cfg = run.config
    for key in ("backbone", "encoder", "model_name_or_path", "embeddings"):
        v = cfg.get(key)
        if v:
            name = str(v).rstrip("/").split("/")[-1]
            return _PACKAGED_BACKBONES.get(name.lower(), name)
    defaults = {
        "biencoder": "all-MiniLM-L6-v2",
        "crossencoder": "all-MiniLM-L6-v2",
        "llm-zeroshot": _PACKAGED_BACKBONES["smollm2"],
        "llm-fewshot": _PACKAGED_BACKBONES["smollm2"],
        "llm-lora": _PACKAGED_BACKBONES["smollm2"],
        "ensemble": "members",
        "siamese-cnn": "glove-6b-50d",
        "lexical": "tf-idf",
    }
    return defaults.get(run.family, "")


def summarize(
    store: ResultStore,
    reference: str | None = None,
    runs: list[str] | None = None,
    bootstrap: int = 1000,
) -> list[RunSummary]:
    """One summary per run (only runs with at least one fold), with P values against
    `reference` (default: the complete run with the best mean F1 among those sharing its folds)."""
    from pairlm.evaluation.stats import bootstrap_ci, summarize_folds

    out: list[RunSummary] = []
    for run in store.runs():
        if runs is not None and run.name not in runs:
            continue
        folds = store.fold_results(run.run_id)
        if not folds:
            continue
        f1s = np.array([f.metrics["f1"] for f in folds])
        s = (
            summarize_folds(f1s)
            if len(f1s) > 1
            else {"mean": f1s[0], "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        )
        means = {
            m: float(np.nanmean([f.metrics.get(m, math.nan) for f in folds])) for m in MEAN_METRICS
        }
        preds = store.predictions(run.run_id)
        boot = (math.nan, math.nan)
        if bootstrap and len(preds["label"]) > 1:
            boot = bootstrap_ci(
                preds["label"], preds["proba"], preds["threshold"], metric="f1", n_boot=bootstrap
            )
        fit_s = float(np.mean([f.fit_seconds for f in folds]))
        pred_s = float(np.mean([f.predict_seconds for f in folds]))
        n_test = float(np.mean([f.n_test for f in folds]))
        out.append(
            RunSummary(
                name=run.name,
                family=run.family,
                backbone=_backbone(run),
                folds_done=len(folds),
                folds_total=int(run.protocol.get("folds", len(folds))),
                n_train=float(np.mean([f.n_train for f in folds])),
                n_test=n_test,
                means=means,
                f1_sd=float(s["sd"]),
                f1_ci=(float(s["ci_low"]), float(s["ci_high"])),
                f1_bootstrap_ci=(float(boot[0]), float(boot[1])),
                fit_seconds=fit_s,
                predict_seconds=pred_s,
                pairs_per_second=n_test / pred_s if pred_s > 0 else math.nan,
                caveats=run.caveats,
                protocol=run.protocol,
                split_key=run.split_key,
                fold_f1=[float(x) for x in f1s],
                config=dict(run.config),
            )
        )
    _add_comparisons(store, out, reference)
    return out


def _add_comparisons(
    store: ResultStore, summaries: list[RunSummary], reference: str | None
) -> None:
    """P values of every run against the reference run (same splits), each on what the two
    share: the corrected t on the folds both finished (none with only one: a run limited to
    one fold gets McNemar alone), McNemar on the pairs both scored
    (runs with per-fold test subsamples or unfinished folds are compared on their
    intersection with the reference, not on the intersection of all runs); Holm across runs."""
    from pairlm.evaluation.stats import add_holm, compare_runs

    if len(summaries) < 2:
        return
    by_name = {s.name: s for s in summaries}
    if reference is not None and reference not in by_name:
        raise KeyError(f"reference run {reference!r} not in the store; runs: {', '.join(by_name)}")
    ref = (
        by_name[reference]
        if reference
        else max(summaries, key=lambda s: (s.complete, s.means["f1"]))
    )
    peers = [s for s in summaries if s.split_key == ref.split_key and s is not ref]
    if not peers:
        return
    run_ids = {r.name: r.run_id for r in store.runs()}

    def folds_and_preds(name: str) -> tuple[dict[int, float], dict[str, np.ndarray]]:
        fr = {f.fold: f.metrics["f1"] for f in store.fold_results(run_ids[name])}
        p = store.predictions(run_ids[name])
        order = np.argsort(p["idx"], kind="stable")
        return fr, {k: v[order] for k, v in p.items()}

    ref_f1, ref_p = folds_and_preds(ref.name)
    out: dict[str, dict[str, float]] = {}
    for s in peers:
        f1, p = folds_and_preds(s.name)
        folds = sorted(set(f1) & set(ref_f1))
        if not folds:
            continue
        keep = np.isin(p["fold"], folds)
        common, ia, ib = np.intersect1d(p["idx"][keep], ref_p["idx"], return_indices=True)
        m_sel = np.flatnonzero(keep)[ia]
        pooled = None
        if len(common):
            y = p["label"][m_sel]
            if not np.array_equal(y, ref_p["label"][ib]):
                raise ValueError(f"runs {s.name!r} and {ref.name!r} disagree on pair labels")
            pred = (p["proba"][m_sel] >= p["threshold"][m_sel]).astype(int)
            pred_ref = (ref_p["proba"][ib] >= ref_p["threshold"][ib]).astype(int)
            pooled = (y, pred, pred_ref)
        n_train = int(np.mean([s.n_train, ref.n_train]))
        n_test = int(np.mean([s.n_test, ref.n_test]))
        c = compare_runs(
            [f1[k] for k in folds], [ref_f1[k] for k in folds], n_train, n_test, pooled
        )
        out[s.name] = {**c, "n_folds": float(len(folds))}
    add_holm(out)
    for name, c in out.items():
        by_name[name].comparison = {**c, "reference": ref.name}  # type: ignore[dict-item]
    ref.comparison = {"reference": ref.name}  # type: ignore[dict-item]


def dataset_infos(store: ResultStore, runs: Iterable[RunInfo]) -> Iterator[tuple[str, dict]]:
    """(dataset name, stored dataset report) of each dataset the runs used, once each."""
    seen: set[str] = set()
    for run in runs:
        if run.dataset in seen:
            continue
        seen.add(run.dataset)
        info = store.dataset_report(run.dataset)
        if info is not None:
            yield run.dataset, info


def _fmt(x: float, digits: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _fmt_p(p: Any) -> str:
    if p is None or not isinstance(p, (int, float)) or math.isnan(p):
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


TABLE_COLUMNS = (
    "method",
    "backbone",
    "folds",
    "train/fold",
    "test/fold",
    "F1",
    "95% CI",
    "SD",
    "ΔF1 vs ref. [95% CI]",
    "P",
    "R",
    "acc",
    "MCC",
    "AUC",
    "fit s/fold",
    "pairs/s",
    "P corr-t",
    "P McNemar",
)


def table_rows(summaries: list[RunSummary]) -> list[list[str]]:
    rows = []
    for s in sorted(summaries, key=lambda s: -s.means["f1"]):
        c = s.comparison
        is_ref = c.get("reference") == s.name
        if is_ref:
            delta = "ref."
        elif "diff" in c:
            delta = (
                f"{c['diff']:+.4f} [{_fmt(c.get('diff_ci_low', math.nan))}, "
                f"{_fmt(c.get('diff_ci_high', math.nan))}]"
            )
        else:
            delta = "—"
        rows.append(
            [
                s.name,
                s.backbone,
                f"{s.folds_done}/{s.folds_total}",
                f"{s.n_train:,.0f}",
                f"{s.n_test:,.0f}",
                _fmt(s.means["f1"]),
                f"[{_fmt(s.f1_ci[0])}, {_fmt(s.f1_ci[1])}]",
                _fmt(s.f1_sd),
                delta,
                _fmt(s.means["precision"]),
                _fmt(s.means["recall"]),
                _fmt(s.means["accuracy"]),
                _fmt(s.means.get("mcc", math.nan)),
                _fmt(s.means["roc_auc"]),
                f"{s.fit_seconds:.1f}",
                f"{s.pairs_per_second:.0f}",
                "ref." if is_ref else _fmt_p(c.get("p_corrected_t_holm")),
                "ref." if is_ref else _fmt_p(c.get("p_mcnemar_holm")),
            ]
        )
    return rows


def markdown_table(summaries: list[RunSummary]) -> str:
    head = "| " + " | ".join(TABLE_COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"
    body = ["| " + " | ".join(r) + " |" for r in table_rows(summaries)]
    return "\n".join([head, sep, *body])


COMPACT_COLUMNS = (
    "run",
    "folds",
    "F1 [95% CI]",
    "ΔF1 [CI]",
    "P Holm",
    "AUC",
    "fit s",
    "pairs/s",
)
"""The terminal table's columns (`rich_table(wide=False)`): F1 and ΔF1 in points."""
COMPACT_WIDTH = 100
"""The terminal table fits this many columns (or the terminal, when narrower)."""
COMPACT_NOTE = (
    "F1, ΔF1 (vs the reference run) in points; P: corrected t-test, Holm (McNemar's for one "
    "shared fold); AUC: ROC-AUC; "
    "fit s: per fold; --wide: every column"
)


def _pts(x: float | None, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:+.1f}" if sign else f"{100 * x:.1f}"


def compact_rows(summaries: list[RunSummary], two_lines: bool = False) -> list[list[str]]:
    """The rows of the terminal table (`COMPACT_COLUMNS`), best mean F1 first; `two_lines`:
    each interval on a line of its own under its estimate (a narrower table)."""
    rows = []
    sep = "\n" if two_lines else " "
    for s in sorted(summaries, key=lambda s: -s.means["f1"]):
        c = s.comparison
        if c.get("reference") == s.name:
            delta, p = "ref.", "ref."
        else:
            delta = _pts(c.get("diff"), True)
            lo, hi = c.get("diff_ci_low"), c.get("diff_ci_high")
            if "diff" in c and _pts(lo) != "—" and _pts(hi) != "—":
                delta += f"{sep}[{_pts(lo, True)},{_pts(hi, True)}]"
            p = _fmt_p(c.get("p_corrected_t_holm"))
            p = _fmt_p(c.get("p_mcnemar_holm")) if p == "—" else p
        rows.append(
            [
                s.name,
                f"{s.folds_done}/{s.folds_total}",
                _pts(s.means["f1"])
                + (f"{sep}[{_pts(s.f1_ci[0])},{_pts(s.f1_ci[1])}]" if s.folds_done > 1 else ""),
                delta,
                p,
                _fmt(s.means["roc_auc"], 3),
                f"{s.fit_seconds:,.0f}",
                f"{s.pairs_per_second:,.0f}"
                if s.pairs_per_second >= 10
                else f"{s.pairs_per_second:.1f}",
            ]
        )
    return rows


def _natural_width(rows: list[list[str]]) -> list[int]:
    cols = [COMPACT_COLUMNS, *rows]
    return [max(len(part) for r in cols for part in r[i].split("\n")) for i in range(len(cols[0]))]


def _compact_layout(summaries: list[RunSummary], width: int) -> list[list[str]]:
    """The terminal table's rows: one line a run where that fits `width`, else each interval
    on a second line."""
    rows = compact_rows(summaries)
    if compact_width(rows) > width:
        rows = compact_rows(summaries, two_lines=True)
    return rows


def compact_width(rows: list[list[str]]) -> int:
    """Columns the terminal table of `rows` needs, every cell whole."""
    return sum(_natural_width(rows)) + 2 * (len(COMPACT_COLUMNS) - 1)


def compact_table_width(summaries: list[RunSummary], width: int = COMPACT_WIDTH) -> int:
    """Columns the terminal table needs: at most `width` unless run names too long for it
    force more (a name or a number is never cut)."""
    return compact_width(_compact_layout(summaries, width))


def rich_table(
    summaries: list[RunSummary], title: str = "Results", wide: bool = True, width: int = 100
) -> Any:
    """The results as a rich table: every column (`TABLE_COLUMNS`, as in the report), or
    with `wide=False` the terminal's (`COMPACT_COLUMNS`) in at most `width` columns where
    the run names allow: intervals go on a second line when one line would be wider. Run
    names are never cut."""
    from rich.table import Table

    if wide:
        t = Table(title=title)
        for c in TABLE_COLUMNS:
            t.add_column(c, justify="left" if c in ("method", "backbone") else "right")
        for r in table_rows(summaries):
            t.add_row(*r)
        return t
    rows = _compact_layout(summaries, width)
    t = Table(
        title=title,
        box=None,
        padding=(0, 1),
        pad_edge=False,
        header_style="bold underline",
        title_justify="left",
    )
    for c, w in zip(COMPACT_COLUMNS, _natural_width(rows)):
        t.add_column(c, justify="left" if c == "run" else "right", no_wrap=True, min_width=w)
    for r in rows:
        t.add_row(*r)
    return t


def markdown_report(
    store: ResultStore, reference: str | None = None, source: str | None = None
) -> str:
    """`report.md`: protocol, data, caveats, the results table (`source`: what the report is
    of, `publish.describe_source`; default: the store's directory)."""
    summaries = summarize_grouped(store, reference)
    lines = ["# pairlm results", "", (source or str(store.directory)).capitalize() + ".", ""]
    if not summaries:
        return "\n".join([*lines, "No finished folds in this store yet."])
    lines += _protocol_lines(summaries)
    lines += ["", "## Data", *_data_lines(store)]
    caveats = sorted({c for s in summaries for c in s.caveats})
    if caveats:
        lines += ["", "## Caveats", *[f"- {c}" for c in caveats]]
    lines += ["", "## Results", "", markdown_table(summaries), ""]
    trivial = _all_duplicate_f1(store, summaries)
    if trivial is not None:
        lines.append(
            f"Trivial baseline: predicting 'duplicate' for every pair gives F1 {trivial:.4f} "
            "(mean over the reference run's test folds)."
        )
        lines.append("")
    lines += [
        "ΔF1: the run's mean F1 minus the reference's on the folds both finished, with the 95% "
        "t interval of the per-fold differences.",
        "",
        "### The paper's figures (not comparable point for point)",
        "",
        "Han, Shi & Tsui (PLoS One 2025), 10-fold CV on a 100,000-pair stratified sample of "
        "full QQP, on GPUs: qLLaMA_LoRA-7B F1 84.9 [84.13, 85.67]; S-CNN 82.02 [81.83, 82.20]. "
        "Other data (the full QQP sample), other models (7B-70B LLMs) and other hardware: a "
        "reference for the shape of the comparison, not for the numbers above.",
        "",
        *_environment_lines(summaries),
        "",
    ]
    partial = [s for s in summaries if not s.complete]
    if partial:
        lines.append(
            "Unfinished runs (mean over the folds done): "
            + ", ".join(f"{s.name} ({s.folds_done}/{s.folds_total})" for s in partial)
        )
    lines += [
        "",
        "Confusion matrices (pooled out-of-fold predictions, each fold at its own threshold):",
        "",
        "| method | TP | FP | FN | TN |",
        "|---|---|---|---|---|",
    ]
    lines += _confusion_lines(store, summaries)
    lines += ["", "Pooled out-of-fold F1, 95% bootstrap CI:", ""]
    for s in summaries:
        lines.append(
            f"- {s.name}: [{_fmt(s.f1_bootstrap_ci[0])}, {_fmt(s.f1_bootstrap_ci[1])}]; "
            f"per-fold F1: {', '.join(_fmt(x, 3) for x in s.fold_f1)}"
        )
    return "\n".join(lines) + "\n"


def _protocol_lines(summaries: list[RunSummary]) -> list[str]:
    """`report.md`'s Protocol section: each split's protocol, the per-run caps, the statistics."""
    from pairlm.evaluation.cv import Protocol

    lines = ["## Protocol"]
    per_run = ("max_train", "max_test")
    protos = {
        s.split_key: {k: v for k, v in s.protocol.items() if k not in per_run} for s in summaries
    }
    for key, proto in protos.items():
        try:
            desc = Protocol(**proto).describe()
        except TypeError:
            desc = str(proto)
        names = ", ".join(s.name for s in summaries if s.split_key == key)
        lines.append(f"- {desc} (runs: {names})")
    capped = [
        f"{s.name} ({', '.join(f'{k} {s.protocol[k]}' for k in per_run if s.protocol.get(k))})"
        for s in summaries
        if any(s.protocol.get(k) for k in per_run)
    ]
    if capped:
        lines.append(
            "- per-run stratified caps on each fold's training / test part: " + "; ".join(capped)
        )
    lines.append(
        "- each run's training and test pairs per fold are in the table (train/fold, test/fold)"
    )
    lines += [
        "- F1 of the positive (match) class at a threshold chosen on validation data only; "
        "95% CI by the t distribution over folds; P values against the reference run "
        "(best mean F1): Nadeau-Bengio corrected resampled t-test and exact McNemar on pooled "
        "out-of-fold predictions, each on the folds and pairs the run shares with the "
        "reference, both Holm-adjusted.",
    ]
    return lines


def _data_lines(store: ResultStore) -> list[str]:
    """`report.md`'s Data section: each dataset's size, matches and validation report."""
    lines: list[str] = []
    for dataset, info in dataset_infos(store, store.runs()):
        lines.append(
            f"- `{dataset}`: {info['n_pairs']} pairs, {info['positives']} matches "
            f"({info['positives'] / max(1, info['n_pairs']):.1%})"
        )
        rep = info.get("report")
        if rep:
            lines.append(
                f"  - validation: read {rep['rows_read']}, kept {rep['rows_kept']}, dropped "
                f"{rep['rows_dropped']} {dict(rep['dropped']) or ''}, repaired {rep['rows_repaired']} "
                f"{dict(rep['repaired']) or ''}"
            )
            if rep.get("side_file"):
                lines.append(f"  - dropped rows kept in `{rep['side_file']}`")
    return lines


def _confusion_lines(store: ResultStore, summaries: list[RunSummary]) -> list[str]:
    """The confusion matrices' rows, best run first (pooled out-of-fold predictions)."""
    lines: list[str] = []
    run_ids = {r.name: r.run_id for r in store.runs()}
    for s in sorted(summaries, key=lambda s: -s.means["f1"]):
        p = store.predictions(run_ids[s.name])
        y, yhat = p["label"] == 1, p["proba"] >= p["threshold"]
        tp, fp = int((y & yhat).sum()), int((~y & yhat).sum())
        fn, tn = int((y & ~yhat).sum()), int((~y & ~yhat).sum())
        lines.append(f"| {s.name} | {tp:,} | {fp:,} | {fn:,} | {tn:,} |")
    return lines


def summarize_grouped(
    store: ResultStore, reference: str | None = None, bootstrap: int = 1000
) -> list[RunSummary]:
    """`summarize` with P values computed within each group of runs scored on the same
    pairs (same split key), against that group's reference: `reference` where it belongs to
    the group, else the group's best complete run. With transfer runs (scored on other
    datasets) in the store, `summarize` compares only the group of its single reference."""
    groups: dict[str, list[str]] = {}
    for run in store.runs():
        if store.finished_folds(run.run_id):
            groups.setdefault(run.split_key, []).append(run.name)
    out: list[RunSummary] = []
    for names in groups.values():
        ref = reference if reference in names else None
        out.extend(summarize(store, ref, runs=names, bootstrap=bootstrap))
    return out


def json_number(x: Any) -> float | None:
    """A JSON number, or null for NaN/None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def summary_dict(
    store: ResultStore, references: list[str] | None = None, bootstrap: int = 1000
) -> dict[str, Any]:
    """`summary.json`: every run's figures and its comparisons with each reference run.

    `runs`: one entry per run (name, family, backbone, config, folds done/total, training and
    test pairs per fold, mean/SD/95% CI of F1, means of the other metrics, seconds per fold).
    `comparisons`: for each reference (default: the best run of each group sharing folds),
    every other run `a` against it (`b`): ΔF1 = F1(a) − F1(b) on the folds both finished with
    its 95% paired-t interval, the Holm-adjusted corrected-t and exact McNemar P values (Holm
    across the runs compared with that reference) and the number of pooled pairs.
    """
    refs: list[str | None] = list(references) if references else [None]
    comparisons: list[dict[str, Any]] = []
    runs_out: list[dict[str, Any]] = []
    configs = {r.name: r.config for r in store.runs()}
    for i, ref in enumerate(refs):
        summaries = summarize_grouped(store, ref, bootstrap=bootstrap if i == 0 else 0)
        if ref is not None and ref not in {s.name for s in summaries}:
            raise KeyError(f"reference run {ref!r} has no finished fold in this store")
        for s in summaries:
            c = s.comparison
            if not c or c.get("reference") == s.name:
                continue
            if ref is not None and c.get("reference") != ref:
                continue
            comparisons.append(
                {
                    "a": s.name,
                    "b": c["reference"],
                    "n_folds": int(c["n_folds"]),
                    "delta_f1": json_number(c["diff"]),
                    "delta_f1_ci": [
                        json_number(c.get("diff_ci_low")),
                        json_number(c.get("diff_ci_high")),
                    ],
                    "p_paired_t": json_number(c["p_paired_t"]),
                    "p_corrected_t": json_number(c["p_corrected_t"]),
                    "p_corrected_t_holm": json_number(c["p_corrected_t_holm"]),
                    "p_mcnemar_holm": json_number(c["p_mcnemar_holm"]),
                    "n_pairs": int(c["n_mcnemar"]),
                }
            )
        if i == 0:
            for s in sorted(summaries, key=lambda s: -s.means["f1"]):
                runs_out.append(
                    {
                        "name": s.name,
                        "family": s.family,
                        "backbone": s.backbone,
                        "config": configs.get(s.name, {}),
                        "folds": s.folds_done,
                        "folds_total": s.folds_total,
                        "n_train_per_fold": round(s.n_train, 1),
                        "n_test_per_fold": round(s.n_test, 1),
                        "f1_mean": json_number(s.means["f1"]),
                        "f1_sd": json_number(s.f1_sd),
                        "f1_ci": [json_number(s.f1_ci[0]), json_number(s.f1_ci[1])],
                        "f1_bootstrap_ci": [
                            json_number(s.f1_bootstrap_ci[0]),
                            json_number(s.f1_bootstrap_ci[1]),
                        ],
                        "fold_f1": s.fold_f1,
                        **{f"{m}_mean": json_number(v) for m, v in s.means.items() if m != "f1"},
                        "auc_mean": json_number(s.means.get("roc_auc")),
                        "fit_seconds_per_fold": json_number(s.fit_seconds),
                        "pairs_per_second": json_number(s.pairs_per_second),
                        "split_key": s.split_key,
                        "protocol": s.protocol,
                    }
                )
    return {"runs": runs_out, "comparisons": comparisons}


def _all_duplicate_f1(store: ResultStore, summaries: list[RunSummary]) -> float | None:
    """Mean per-fold F1 of predicting 1 for every pair, on the reference run's test folds."""
    ref = next((s for s in summaries if s.comparison.get("reference") == s.name), None)
    ref = ref or (max(summaries, key=lambda s: s.means["f1"]) if summaries else None)
    if ref is None:
        return None
    run = next((r for r in store.runs() if r.name == ref.name), None)
    if run is None:
        return None
    p = store.predictions(run.run_id)
    f1s = []
    for fold in np.unique(p["fold"]):
        y = p["label"][p["fold"] == fold]
        pos = float(np.mean(y == 1)) if len(y) else 0.0
        f1s.append(2 * pos / (1 + pos) if pos > 0 else 0.0)
    return float(np.mean(f1s)) if f1s else None


def _environment_lines(summaries: list[RunSummary]) -> list[str]:
    """Where the report was made and how each run was configured to compute."""
    import importlib.metadata as md
    import os
    import platform

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "—"

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    libs = ", ".join(
        f"{p} {version(p)}" for p in ("pairlm", "torch", "transformers", "peft", "scikit-learn")
    )
    out = [
        "## Environment",
        "",
        f"- report made with {libs}; Python {platform.python_version()}",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs (the runs' own machine may differ)",
    ]
    for s in summaries:
        wall = (s.fit_seconds + s.predict_seconds) * s.folds_done
        cfg_dtype = s.config.get("dtype") or ("auto" if s.family.startswith("llm-") else None)
        out.append(
            f"- {s.name}: {s.folds_done} fold(s), {wall / 60:.1f} min of fitting and scoring"
            + (f", dtype {cfg_dtype}" if cfg_dtype else "")
        )
    return out
