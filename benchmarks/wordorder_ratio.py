"""Choose the word-order augmentation ratio on fold 0's validation part (issue 44, item 3).

A run of `experiments/behaviour-order.toml` (default: `minilm-crossencoder-order-wordorder`)
is trained on fold 0's training part (the 10-fold QQP protocol, `fold0.py`) with its
`wordorder:R` augmentation at each ratio R of `--ratios` (0: the kind left out, i.e. the
run's twin without it), early-stopping and setting its threshold on the 500 validation pairs
an `llm-lora` model stops on, and judged on the fold's other validation pairs: F1 at that
threshold, the best F1 over thresholds, ROC-AUC. Never the behavioural suite and never the
fold's test part. The word-order pairs the fold's questions gave at each ratio are recorded
(`augmented`): the rules apply to about 2.5% of the questions, so a high ratio takes what
there is.

Each setting runs in its own process, without the run's `checkpoint_dir`, and is written to
`--out` as it finishes; a setting already in `--out` is skipped (rerun to resume).

    .venv/bin/python benchmarks/wordorder_ratio.py --out results/behaviour/wordorder-ratio-fold0.json \\
        [--run minilm-crossencoder-order-wordorder] [--ratios 0,0.025,0.05,0.1] [--train N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fold0 import fold0_parts

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
os.environ.setdefault("PAIRLM_DATA_DIR", str(_SHARED))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXPERIMENT = ROOT / "experiments" / "behaviour-order.toml"


def run_config(name: str) -> tuple[str, dict]:
    """(family, config) of run `name` in behaviour-order.toml, without its checkpoint folder."""
    spec = tomllib.loads(EXPERIMENT.read_text(encoding="utf-8"))
    for r in spec["runs"]:
        if r["name"] == name:
            cfg = dict(r.get("config", {}))
            cfg.pop("checkpoint_dir", None)
            return r["model"], cfg
    raise SystemExit(f"error: no run {name!r} in {EXPERIMENT}")


def with_ratio(cfg: dict, ratio: float) -> dict:
    """`cfg` with its word-order kind at `ratio` (left out at 0)."""
    kinds = [k for k in cfg.get("augment", []) if not k.startswith("wordorder")]
    if ratio > 0:
        kinds.append(f"wordorder:{ratio:g}")
    return {**cfg, "augment": kinds}


def run_setting(name: str, ratio: float, n_train: int | None, n_judge: int) -> dict:
    import numpy as np

    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.models.registry import create

    family, cfg = run_config(name)
    train, _valid, _test, stop, judge = fold0_parts(n_train, n_judge)  # test stays unused
    model = create(family, {**with_ratio(cfg, ratio), "progress": False})
    t0 = time.perf_counter()
    model.fit(train, stop)
    fit_s = time.perf_counter() - t0
    p = model.predict_proba(judge)
    m = binary_metrics(judge.y, p, model.threshold_)
    grid = np.unique(np.round(p, 4))
    best = max(
        binary_metrics(judge.y, p, float(t))["f1"] for t in grid[:: max(1, len(grid) // 200)]
    )
    return {
        "ratio": ratio,
        "augment": with_ratio(cfg, ratio)["augment"],
        "augmented": getattr(model, "augmented_", {}),
        "train_pairs": len(train),
        "fit_s": round(fit_s, 1),
        "valid_f1": round(m["f1"], 4),
        "valid_best_f1": round(best, 4),
        "valid_auc": round(m["roc_auc"], 4),
        "stopped_on": len(stop),
        "judged_on": len(judge),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="JSON written after each setting (resumes); required")
    ap.add_argument("--run", default="minilm-crossencoder-order-wordorder")
    ap.add_argument("--ratios", default="0,0.025,0.05,0.1")
    ap.add_argument("--train", type=int, help="stratified subsample of the training part")
    ap.add_argument("--judge", type=int, default=100_000, help="validation pairs judged (max)")
    ap.add_argument("--_child", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child is not None:
        print(json.dumps(run_setting(args.run, args._child, args.train, args.judge)))
        return
    if not args.out:
        ap.error("--out is required")
    out_path = Path(args.out)
    out = json.loads(out_path.read_text()) if out_path.is_file() else {}
    out.update({"command": " ".join(["benchmarks/wordorder_ratio.py", *sys.argv[1:]])})
    out.update({"fold": 0, "run": args.run, "train_pairs": args.train or "all"})
    settings = out.setdefault("settings", {})
    for r in (float(x) for x in args.ratios.split(",")):
        key = f"{r:g}"
        if key in settings and "error" not in settings[key]:
            continue
        cmd = [sys.executable, __file__, "--_child", str(r), "--run", args.run]
        cmd += ["--judge", str(args.judge)] + (["--train", str(args.train)] if args.train else [])
        res = subprocess.run(cmd, capture_output=True, text=True)
        settings[key] = (
            json.loads(res.stdout.strip().splitlines()[-1])
            if res.returncode == 0
            else {"error": res.stderr.strip().splitlines()[-3:]}
        )
        print(json.dumps({key: settings[key]}), file=sys.stderr, flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
