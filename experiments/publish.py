"""Publish finished runs: results/<experiment>/ (report.md, report.html, summary.json and a
snapshot of the store holding the experiment's runs) and the tables made from them: every run
and comparison in docs/results/<experiment>.md, the "which model" table in README.md and
docs/results/index.md (`pairlm.report.docs`; a test keeps them equal to the summaries).

    .venv/bin/python experiments/publish.py [--store runs/qqp-cv] [--results results]
        [--readme README.md] [--root .] [EXPERIMENT.toml ...]

Each snapshot keeps its experiment's own runs; the runs it borrows from the other one (ALSO
below: the learning curves' full-size points are qqp-cv runs) are in the summary and report
but stored only in the other experiment's snapshot.

Default: experiments/qqp-cv.toml and experiments/learning-curve.toml, both run into the
store runs/qqp-cv (they share its folds). Only runs with all their folds are published there
(so the tables and the P values quoted from them move only when a run finishes); each
experiment's comparisons are made against its `references` below that are published. Runs
still going are snapshotted to results/in-progress/ (a report and summary comparing them with
the published references on the folds they share, and a store holding only their finished
folds), so a lost machine costs only their unfinished folds; on a new
machine `pairlm merge runs/qqp-cv results/qqp-cv results/learning-curve results/in-progress`
restores every finished fold (leave out results/in-progress when there is none: the folder
goes once no run is in progress).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = {
    # the paper's claims: the fine-tuned LLM against every other method; pairlm's ensembles
    # (the default one, the one with the SmolLM2 LoRA member, and the one chosen among six
    # candidates with the cross-encoder and Gemma LoRA) against every peer; the second
    # backbone against the first at the same training size ("a larger fine-tuned LLM"), and
    # at full size against every peer; SmolLM2 LoRA in the validation-chosen setting against
    # every peer; both LoRA runs again with order-averaged scoring (`symmetric`, same
    # trainings) against every peer, and the stack with the order-averaged LoRA member; the
    # cross-encoder and the all-linear LoRA trained on both orders of each pair against every
    # peer, and the stack with that LoRA member; that member and its stack re-run without
    # LoRA dropout (faster training) against every peer, their dropout runs included, and
    # again with the adapter branch in bf16 (faster still)
    "qqp-cv": [
        "smollm2-lora-full",
        "ensemble-default",
        "ensemble",
        "gemma3-lora-4k",
        "gemma3-lora-full",
        "ensemble-llm",
        "smollm2-lora-full-al16",
        "smollm2-lora-full-al16-sym",
        "gemma3-lora-full-sym",
        "ensemble-sym",
        "minilm-crossencoder-order",
        "smollm2-lora-full-al16-order-sym",
        "ensemble-order",
        "smollm2-lora-full-al16-order-nodrop-sym",
        "ensemble-order-nodrop",
        "smollm2-lora-full-al16-order-nodrop-bf16-sym",
        "ensemble-order-nodrop-bf16",
    ],
    "learning-curve": [],
}
# The full-size points of the learning curves are the qqp-cv runs (same folds, same configs).
ALSO = {
    # SmolLM2 LoRA at Gemma LoRA's training size and folds, for the backbone comparison
    "qqp-cv": ["smollm2-lora-4k"],
    "learning-curve": [
        "lexical",
        "siamese-cnn",
        "minilm-biencoder",
        "minilm-crossencoder-full",
        "smollm2-lora-full",
    ],
}


def _fold_counts(store: Path) -> dict[str, int]:
    """Finished folds per run name in the store."""
    con = sqlite3.connect(f"file:{store / 'results.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT r.name, COUNT(DISTINCT f.fold) FROM runs r JOIN folds f ON f.run_id = r.run_id"
            " GROUP BY r.name"
        ).fetchall()
    finally:
        con.close()
    return {name: n for name, n in rows}


def _planned_folds(spec: dict) -> dict[str, int]:
    """How many folds each run of an experiment computes: its `fold_ids`, else all."""
    k = spec["protocol"]["folds"]
    return {r.get("name", r["model"]): len(r.get("fold_ids") or range(k)) for r in spec["runs"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="*", type=Path)
    ap.add_argument("--store", type=Path, default=ROOT / "runs" / "qqp-cv")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="results folder")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md", help="headline table")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose docs/ gets the tables")
    args = ap.parse_args(argv)
    exps = args.experiments or [
        ROOT / "experiments" / "qqp-cv.toml",
        ROOT / "experiments" / "learning-curve.toml",
    ]
    from pairlm.cli import main as pairlm
    from pairlm.report.docs import results_blocks
    from pairlm.report.readme import has_block, replace_blocks

    counts = _fold_counts(args.store)
    specs = [tomllib.loads(exp.read_text()) for exp in exps]
    planned: dict[str, int] = {}
    for spec in specs:
        planned.update(_planned_folds(spec))
    done = {r for r, n in counts.items() if n >= planned.get(r, 0)}
    going = [r for r in planned if 0 < counts.get(r, 0) < planned[r]]
    summaries = []
    for spec in specs:
        name = spec["experiment"]["name"]
        runs = [r.get("name", r["model"]) for r in spec.get("runs", [])]
        runs += [r for r in ALSO.get(name, []) if r not in runs]
        have = [r for r in runs if r in done]
        if not have:
            print(f"{name}: no finished run yet", file=sys.stderr)
            continue
        out = args.results / name
        cmd = ["report", str(args.store), "--json", "-q", "--out", str(out), "--with-store"]
        cmd += ["--experiment", name]
        cmd += ["--runs", ",".join(have)]
        also = set(ALSO.get(name, []))
        if also & set(have):
            # runs of the other experiment: its own snapshot keeps them (once, not twice)
            cmd += ["--store-runs", ",".join(r for r in have if r not in also)]
        for ref in REFERENCES.get(name, []):
            if ref in have:
                cmd += ["--reference", ref]
        rc = pairlm(cmd)
        if rc:
            return rc
        summaries.append(out / "summary.json")
    progress = args.results / "in-progress"
    if going:
        print(f"in progress, not published: {', '.join(going)} (snapshot: {progress})")
        # beside the published references, on the folds they share; the store keeps only theirs
        refs = [r for refs in REFERENCES.values() for r in refs if r in done]
        cmd = ["report", str(args.store), "--json", "-q", "--out", str(progress)]
        cmd += ["--with-store", "--runs", ",".join(going + refs), "--store-runs", ",".join(going)]
        cmd += ["--experiment", "runs in progress"]
        for ref in going:
            cmd += ["--reference", ref]
        rc = pairlm(cmd)
        if rc:
            return rc
    elif progress.exists():
        shutil.rmtree(progress)
    for page, blocks in results_blocks(args.root, summaries).items():
        path = args.readme if page == "README.md" else args.root / page
        if not path.is_file():
            print(f"no {path}: its tables are not written", file=sys.stderr)
            continue
        text = path.read_text(encoding="utf-8")
        present = {b: t for b, t in blocks.items() if has_block(text, b)}
        if present:
            path.write_text(replace_blocks(text, present, str(path)), encoding="utf-8")
            print(f"updated {', '.join(present)} in {path}")
        for b in sorted(set(blocks) - set(present)):
            print(f"{path} has no <!-- pairlm:{b} --> block", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
