"""Writing a report directory from a result store: `report.md`, `report.html` (with the
figures), `summary.json`, the behaviour section of an experiment's `[check]`, and optionally a
snapshot of the store (`pairlm report`, `pairlm run`, `experiments/publish.py`)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pairlm.evaluation.store import ResultStore
from pairlm.experiments.checks import check_path
from pairlm.report import curves
from pairlm.report.behaviour import (
    behaviour_markdown,
    behaviour_summary,
    load_checks,
    robustness_markdown,
    robustness_rows,
)
from pairlm.report.tables import markdown_report, summarize_grouped, summary_dict


def write_report(
    src: Path,
    out: Path,
    references: list[str],
    *,
    runs: list[str] | None = None,
    with_store: bool = False,
    store_runs: list[str] | None = None,
    with_json: bool = False,
    experiment: str | None = None,
) -> tuple[str, list[Path]]:
    """Write the report of the store in `src` to `out` (which may be `src`).

    `references`: the runs compared against (the first one leads the markdown report);
    `runs`: only these runs; `with_store`: also a snapshot of the store in `out`, holding
    only `store_runs` if given (the report still covers every run: a run published in
    another snapshot need not be copied twice); `with_json`: also `summary.json`;
    `experiment`: the name the report gives its results (default: `out`'s name). Returns
    (the markdown, the files written). Raises `FileNotFoundError` without a store,
    `ValueError` for `runs`/`with_store` into `src` or `store_runs` outside `runs`, and
    `StoreError` for a snapshot that cannot be taken."""
    src, out = Path(src), Path(out)
    if (with_store or runs) and out.resolve() == src.resolve():
        raise ValueError("--with-store and --runs need --out, a directory other than DIR")
    if store_runs is not None:
        if not with_store:
            raise ValueError("--store-runs needs --with-store")
        extra = sorted(set(store_runs) - set(runs)) if runs is not None else []
        if extra:
            raise ValueError(f"--store-runs names run(s) not in --runs: {', '.join(extra)}")
    lead = references[0] if references else None
    experiment = experiment or out.resolve().name
    source = describe_source(src, experiment, with_store)
    written: list[Path] = []
    data = src
    with tempfile.TemporaryDirectory(prefix="pairlm-report-") as tmp:
        with ResultStore(src, create=False) as store:
            out.mkdir(parents=True, exist_ok=True)
            if with_store or runs:
                # Report from a consistent (and, with `runs`, filtered) copy of the store.
                whole = with_store and store_runs is None
                snapshot = store.snapshot(out if whole else Path(tmp), runs=runs)
                if whole:
                    written.append(snapshot)
                data = snapshot.parent
        if with_store and store_runs is not None:
            # Taken from the report's own snapshot, so both hold the same finished folds.
            with ResultStore(data, create=False) as store:
                written.append(store.snapshot(out, runs=store_runs))
        with ResultStore(data, create=False) as store:
            md = markdown_report(store, lead, source)
            summary = summary_dict(store, references) if with_json else None
            learning = curves.from_store(store)
            md += curves.markdown(learning)
            if summary is not None and learning:
                summary["learning_curves"] = learning
            if importlib.util.find_spec("pairlm.report.html") is not None:
                from pairlm.report.html import write_html

                checks = load_checks(src, runs)
                page = out / "report.html"
                written.insert(
                    0, write_html(store, page, lead, checks, source=source, name=experiment)
                )
    md, summary = _behaviour_section(src, out, runs, md, summary)
    target = out / "report.md"
    target.write_text(md, encoding="utf-8")
    written.insert(0, target)
    if summary is not None:
        target = out / "summary.json"
        target.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", "utf-8")
        written.insert(1, target)
    return md, written


def describe_source(src: Path, experiment: str, with_store: bool) -> str:
    """What a report is of, in one line: the experiment's name, the store directory the user
    gave (relative to the working directory where it is below it), and the snapshot of the
    store written beside the report, if one is. Never a temporary folder."""
    try:
        where = str(src.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        where = str(src.resolve())
    text = f"experiment {experiment}, from the result store in {where}"
    return text + ("; store snapshot: results.sqlite beside this report" if with_store else "")


def _behaviour_section(
    src: Path, out: Path, only: list[str] | None, md: str, summary: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Add the behaviour section (an experiment's `[check]` files) to the report, and copy
    those files next to a report published elsewhere."""
    checks = load_checks(src, only)
    if not checks:
        return md, summary
    with ResultStore(src, create=False) as store:
        summaries = summarize_grouped(store, bootstrap=0)
    f1 = {s.name: s.means["f1"] for s in summaries}
    runs = [
        {
            "name": s.name,
            "family": s.family,
            "config": s.config,
            "f1_mean": s.means["f1"],
            "f1_ci": list(s.f1_ci),
            "fold_f1": list(s.fold_f1),
        }
        for s in summaries
    ]
    rows = robustness_rows(checks, runs)
    md += behaviour_markdown(checks, f1) + robustness_markdown(rows)
    if summary is not None:
        summary["behaviour"] = behaviour_summary(checks)
        summary["robustness"] = rows
    if out.resolve() != src.resolve():
        for name in checks:
            dst = check_path(out, name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(check_path(src, name), dst)
    return md, summary
