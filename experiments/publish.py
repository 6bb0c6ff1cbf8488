"""Publish finished folds: results/<experiment>/ (report.md, report.html, summary.json and a
snapshot of the store holding the experiment's runs) and the README tables made from them.

    .venv/bin/python experiments/publish.py [--store runs/qqp-cv] [EXPERIMENT.toml ...]

Each snapshot keeps its experiment's own runs; the runs it borrows from the other one (ALSO
below: the learning curves' full-size points are qqp-cv runs) are in the summary and report
but stored only in the other experiment's snapshot.

Default: experiments/qqp-cv.toml and experiments/learning-curve.toml, both run into the
store runs/qqp-cv (they share its folds). Each experiment's comparisons are made against
its `references` below that have finished folds. Runs may still be going: the snapshot
holds what was committed when it was taken.
"""

from __future__ import annotations

import argparse
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
    # peer
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


def _runs_with_folds(store: Path) -> set[str]:
    con = sqlite3.connect(f"file:{store / 'results.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT r.name FROM runs r JOIN folds f ON f.run_id = r.run_id"
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="*", type=Path)
    ap.add_argument("--store", type=Path, default=ROOT / "runs" / "qqp-cv")
    args = ap.parse_args()
    exps = args.experiments or [
        ROOT / "experiments" / "qqp-cv.toml",
        ROOT / "experiments" / "learning-curve.toml",
    ]
    from pairlm.cli import main as pairlm
    from pairlm.report.readme import update

    done = _runs_with_folds(args.store)
    summaries = []
    for exp in exps:
        spec = tomllib.loads(exp.read_text())
        name = spec["experiment"]["name"]
        runs = [r.get("name", r["model"]) for r in spec.get("runs", [])]
        runs += [r for r in ALSO.get(name, []) if r not in runs]
        have = [r for r in runs if r in done]
        if not have:
            print(f"{name}: no finished folds yet", file=sys.stderr)
            continue
        out = ROOT / "results" / name
        cmd = ["report", str(args.store), "--json", "-q", "--out", str(out), "--with-store"]
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
    readme = ROOT / "README.md"
    names = {s.parent.name for s in summaries}
    text = readme.read_text(encoding="utf-8")
    present = [s for s in summaries if f"<!-- pairlm:{s.parent.name}:begin -->" in text]
    if present:
        update(readme, present)
    missing = names - {s.parent.name for s in present}
    if missing:
        print(f"README has no table block for: {', '.join(sorted(missing))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
