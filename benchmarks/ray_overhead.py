"""Benchmark: what Ray costs and gives on one machine, against pairlm's own local paths.

1. Grid: the quickstart's cheap runs (`lexical`, `minilm-biencoder`; 5 folds of 4,000 QQP
   pairs) through the local pool (`--workers W`) and through a local Ray with the same number
   of workers (`ray.init(num_cpus=W)`, `--backend ray --workers W`), each into a fresh store.
   Wall time of each, the ratio (Ray / local: Ray's scheduling, serialisation and per-worker
   model loading, measured in one run on the same machine), Ray's start-up time apart, the
   per-fold times (fit + scoring, from the stores) that a cluster projection starts from,
   and whether the two backends stored the same per-fold metrics.
2. Batch scoring: 100,000 pairs (QQP questions: the subset's pairs, then its questions paired
   at random, seeded) scored by a lexical model trained on the quickstart's 4,000 pairs:
   one process (`model.predict_proba`) against Ray Data with W actors
   (`pairlm.models.ray_scoring.score_on_ray`); pairs/s of each, the ratio, and whether
   the probabilities are equal.

Needs the `ray` extra and ../shared/data (or $PAIRLM_DATA_DIR). Threads per worker: 1
(OMP_NUM_THREADS=1). Prints one JSON object.

    .venv/bin/python benchmarks/ray_overhead.py [--workers 2] [--pairs 100000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "experiments" / "quickstart.toml"
RUNS = ["lexical", "minilm-biencoder"]


def _fold_times(out: Path) -> dict[str, dict[str, float]]:
    from pairlm.evaluation.store import ResultStore

    res = {}
    with ResultStore(out, create=False) as store:
        for r in store.runs():
            folds = store.fold_results(r.run_id)
            res[r.name] = {
                "folds": len(folds),
                "fit_s_per_fold": round(float(np.mean([f.fit_seconds for f in folds])), 2),
                "predict_s_per_fold": round(float(np.mean([f.predict_seconds for f in folds])), 2),
                "f1_mean": round(float(np.mean([f.metrics["f1"] for f in folds])), 4),
            }
    return res


def _compare(a: Path, b: Path) -> dict[str, dict[str, object]]:
    """Per run: the same per-fold metrics in both stores? the largest |Δ P(match)|."""
    from pairlm.evaluation.store import ResultStore

    out: dict[str, dict[str, object]] = {}
    with ResultStore(a, create=False) as sa, ResultStore(b, create=False) as sb:
        for r in sa.runs():
            o = sb.get_run(r.name)
            assert o is not None
            pa, pb = sa.predictions(r.run_id), sb.predictions(o.run_id)
            fa, fb = sa.fold_results(r.run_id), sb.fold_results(o.run_id)
            out[r.name] = {
                "same_fold_metrics": [f.metrics for f in fa] == [f.metrics for f in fb],
                "same_predictions": bool(np.array_equal(pa["proba"], pb["proba"])),
                "max_abs_proba_difference": float(np.max(np.abs(pa["proba"] - pb["proba"]))),
                "max_abs_f1_difference": float(
                    max(abs(x.metrics["f1"] - y.metrics["f1"]) for x, y in zip(fa, fb))
                ),
            }
    return out


def grid(tmp: Path, workers: int, runs: list[str]) -> dict[str, object]:
    import ray

    from pairlm.experiments.runner import run_experiment

    t0 = time.perf_counter()
    run_experiment(QUICKSTART, tmp / "local", only=runs, workers=workers, progress=False)
    local_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
    start_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        run_experiment(
            QUICKSTART, tmp / "ray", only=runs, workers=workers, progress=False, backend="ray"
        )
        ray_s = time.perf_counter() - t0
    finally:
        ray.shutdown()
    return {
        "runs": runs,
        "folds_per_run": 5,
        "workers": workers,
        "local_pool_s": round(local_s, 1),
        "ray_s": round(ray_s, 1),
        "ray_start_s": round(start_s, 1),
        "ratio": round(ray_s / local_s, 3),
        "ratio_what": "Ray wall time / local pool wall time, same runs, same workers "
        "(Ray's start-up apart)",
        "local_vs_ray": _compare(tmp / "local", tmp / "ray"),
        "per_fold_local": _fold_times(tmp / "local"),
        "per_fold_ray": _fold_times(tmp / "ray"),
    }


def _pairs(n: int, seed: int = 0):  # -> PairDataset
    from pairlm.data import load_dataset
    from pairlm.data.pairs import PairDataset

    qqp = load_dataset("qqp")
    rng = np.random.default_rng(seed)
    a, b = list(qqp.text_a), list(qqp.text_b)
    texts = np.asarray(sorted(set(a) | set(b)), dtype=object)
    while len(a) < n:
        k = min(n - len(a), len(texts))
        a += list(texts[rng.integers(len(texts), size=k)])
        b += list(texts[rng.integers(len(texts), size=k)])
    return PairDataset.from_pairs(a[:n], b[:n], name="bench")


def scoring(tmp: Path, workers: int, n: int) -> dict[str, object]:
    import ray

    from pairlm.data import load_dataset
    from pairlm.data.splits import stratified_subsample
    from pairlm.models.ray_scoring import score_on_ray
    from pairlm.models.registry import create, load_model

    qqp = load_dataset("qqp")
    train = qqp.subset(stratified_subsample(qqp, 4000, 0))
    create("lexical").fit(train).save(tmp / "lexical")
    model = load_model(tmp / "lexical")
    ds = _pairs(n)
    t0 = time.perf_counter()
    single = np.asarray(model.predict_proba(ds), dtype=np.float64)
    single_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING")
    start_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        on_ray = score_on_ray(tmp / "lexical", ds, actors=workers)
        ray_s = time.perf_counter() - t0
    finally:
        ray.shutdown()
    return {
        "pairs": n,
        "model": "lexical, trained on the quickstart's 4,000 pairs",
        "single_process_s": round(single_s, 1),
        "single_process_pairs_per_s": round(n / single_s),
        "ray_actors": workers,
        "ray_s": round(ray_s, 1),
        "ray_pairs_per_s": round(n / ray_s),
        "ray_start_s": round(start_s, 1),
        "speedup": round(single_s / ray_s, 3),
        "speedup_what": "single-process seconds / Ray Data seconds (model loading in the "
        "actors included, Ray's start-up apart)",
        "same_probabilities": bool(np.array_equal(single, on_ray)),
        "max_abs_difference": float(np.max(np.abs(single - on_ray))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--runs", default=",".join(RUNS), help="quickstart runs for the grid part")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--skip-scoring", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from pairlm.logs import quiet_libraries

    quiet_libraries()
    try:
        import ray  # noqa: F401
    except ImportError:
        sys.exit("this benchmark needs Ray: pip install 'pairlm[ray]'")
    result: dict[str, object] = {
        "machine": f"{os.cpu_count()} CPUs",
        "load_average_1min_before": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="pairlm-ray-bench-") as d:
        tmp = Path(d)
        if not args.skip_grid:
            result["grid"] = grid(tmp, args.workers, args.runs.split(","))
        if not args.skip_scoring:
            result["scoring"] = scoring(tmp, args.workers, args.pairs)
    result["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
