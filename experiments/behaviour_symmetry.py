"""Order-averaging on a family that is not symmetric by construction: the MiniLM cross-encoder
trained on fold 0 of experiments/behaviour.toml (the qqp-cv folds), scored on the behavioural
suite and on part of fold 0's test pairs with `symmetric = false` and `true` (the same
weights; `symmetric` only changes scoring), written to results/behaviour/symmetry.json.

    .venv/bin/python experiments/behaviour_symmetry.py [--max-train 1000] [--max-test 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="crossencoder")
    ap.add_argument("--max-train", type=int, default=1000, help="training pairs (max_train_pairs)")
    ap.add_argument("--max-test", type=int, default=500, help="fold-0 test pairs scored for F1")
    ap.add_argument("--max-valid", type=int, default=500, help="validation pairs (threshold)")
    ap.add_argument("--n", type=int, default=200, help="suite cases per test")
    ap.add_argument("--tests", default="", help="comma-separated suite tests (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "behaviour" / "symmetry.json")
    args = ap.parse_args()

    from pairlm.data.splits import stratified_subsample
    from pairlm.evaluation.behaviour import run_suite
    from pairlm.evaluation.cv import fold_data, prepare
    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.evaluation.store import ResultStore
    from pairlm.experiments.runner import load_experiment, load_source
    from pairlm.models.registry import create

    exp = load_experiment(ROOT / "experiments" / "behaviour.toml")
    source = load_source(exp.dataset, exp.data_format, exp.policy, **exp.read_options)
    with tempfile.TemporaryDirectory() as tmp, ResultStore(Path(tmp)) as store:
        prepared = prepare(store, source, exp.protocol, exp.dataset_name)
    train, valid, _, test = fold_data(prepared, 0, exp.protocol)
    if args.max_valid < len(valid):
        valid = valid.subset(stratified_subsample(valid, args.max_valid, 0))
    if args.max_test < len(test):
        test = test.subset(stratified_subsample(test, args.max_test, 0))
    config = {"max_train_pairs": args.max_train}
    t0 = time.perf_counter()
    model = create(args.family, config).fit(train, valid)
    fit_s = time.perf_counter() - t0
    rows = []
    for symmetric in (False, True):
        model.config = model.config.replace(symmetric=symmetric)
        t0 = time.perf_counter()
        rep = run_suite(model, n=args.n, tests=[t for t in args.tests.split(",") if t] or None)
        proba = model.predict_proba(test)
        f1 = binary_metrics(test.y, proba, model.threshold_)["f1"]
        rows.append(
            {
                "symmetric": symmetric,
                "f1_fold0_test_subsample": round(float(f1), 4),
                "score_seconds": round(time.perf_counter() - t0, 1),
                **rep.summary(),
                "failure_rates": {r.name: round(r.failure_rate, 4) for r in rep.results},
                "mean_abs_change": {
                    r.name: r.mean_abs_change for r in rep.results if r.mean_abs_change is not None
                },
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    doc = {
        "family": args.family,
        "config": config,
        "fold": 0,
        "n_train": len(train),
        "n_valid": len(valid),
        "n_test": len(test),
        "threshold": float(model.threshold_),
        "fit_seconds": round(fit_s, 1),
        "suite_n": args.n,
        "command": "python experiments/behaviour_symmetry.py " + " ".join(sys.argv[1:]),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
