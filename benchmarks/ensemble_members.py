"""Which members should the `ensemble` family stack by default? Judged on validation only.

One fold (`--fold`, default 0) of the 10-fold QQP protocol of `experiments/qqp-cv.toml`
(stratified, seed 0, 10% of the training part held out for validation; cut exactly as
`pairlm run` cuts it). Each candidate is one of that file's runs, with its config: a
cross-encoder or LoRA candidate whose run kept its finished training (`checkpoint_dir`)
for this fold reuses it instead of training again. Each
candidate member family is trained once on the fold's training part with its validation
part, exactly as inside the ensemble. Every non-empty subset of the candidates is then
judged as the ensemble judges itself: a logistic-regression stacker over the members'
logits, scored on the validation part by 5-fold cross-fitting (each validation pair scored
by a stacker that did not see it). Reported per subset: ROC-AUC and average precision of
the cross-fitted scores, and F1 at the threshold the ensemble would learn from them. The
fold's test part is never read, so a default chosen here is not tuned to test.

Caveat (same for every subset): the members early-stop and set their own thresholds on this
validation part, so their validation scores are slightly optimistic; the comparison between
subsets is what this is for, not the absolute level.

Prints one JSON object (`--out FILE` also writes it). With `--cache DIR` each trained
candidate's validation logits are kept in DIR (keyed by fold, candidate, family and config)
and read back instead of training again: an interrupted benchmark resumes, and candidates
can be trained by separate processes side by side, then judged together by one more run
that finds them all in the cache.

    .venv/bin/python benchmarks/ensemble_members.py [--fold 0] [--cache DIR] \
        [--members lexical,biencoder,siamese-cnn,crossencoder,smollm2-lora,gemma3-lora]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import os
import sys
import tempfile
import time
import tomllib

_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
os.environ.setdefault("PAIRLM_DATA_DIR", os.path.normpath(_SHARED))

_EXPERIMENT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "experiments", "qqp-cv.toml"
)
# candidate name -> the run of experiments/qqp-cv.toml whose family and config it takes
CANDIDATES: dict[str, str] = {
    "lexical": "lexical",
    "biencoder": "minilm-biencoder",
    "siamese-cnn": "siamese-cnn",
    "crossencoder": "minilm-crossencoder-full",
    "crossencoder-order": "minilm-crossencoder-order",
    "smollm2-lora": "smollm2-lora-full",
    "gemma3-lora": "gemma3-lora-full",
    "smollm2-lora-al16": "smollm2-lora-full-al16",
    "smollm2-lora-al16-order": "smollm2-lora-full-al16-order",
}
DEFAULT_CANDIDATES = ("lexical", "biencoder", "siamese-cnn")


@functools.cache
def _runs() -> dict[str, dict]:
    with open(_EXPERIMENT, "rb") as f:
        return {r["name"]: r for r in tomllib.load(f)["runs"]}


def candidate(name: str) -> tuple[str, dict]:
    """(family, config) of the qqp-cv run behind candidate `name`."""
    run = _runs()[CANDIDATES[name]]
    return run["model"], dict(run.get("config", {}))


def cache_path(cache: str, fold: int, name: str) -> str:
    """Where candidate `name`'s validation logits on `fold` are kept; the key covers its config."""
    family, config = candidate(name)
    key = json.dumps({"fold": fold, "family": family, "config": config}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return os.path.join(cache, f"fold{fold}-{name}-{digest}.npz")


def fold_parts(fold: int):
    from pairlm.data import load_dataset
    from pairlm.evaluation.cv import Protocol, fold_data, prepare
    from pairlm.evaluation.store import ResultStore

    protocol = Protocol(folds=10, strategy="stratified", seed=0, valid_fraction=0.1)
    ds = load_dataset("qqp-subset")
    with tempfile.TemporaryDirectory() as tmp, ResultStore(tmp) as store:
        prepared = prepare(store, ds, protocol, "glue-train-subset")
        train, valid, _test_idx, _test = fold_data(prepared, fold, protocol)
    return train, valid


def judge(x, y, seed: int = 0) -> dict:
    """The ensemble's own validation scoring of a feature matrix: cross-fitted LR scores."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.models.thresholds import choose_threshold

    out = np.zeros(len(y))
    for fit_idx, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x[fit_idx], y[fit_idx])
        out[held] = lr.predict_proba(x[held])[:, 1]
    m = binary_metrics(y, out, choose_threshold(y, out))
    return {
        "valid_f1": round(m["f1"], 4),
        "valid_roc_auc": round(m["roc_auc"], 4),
        "valid_average_precision": round(m["average_precision"], 4),
    }


def to_logit(p):
    """Log-odds of probabilities, clipped away from 0 and 1 (the stacker's member features)."""
    import numpy as np

    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def judge_subsets(logits: dict, y) -> list[dict]:
    """Every non-empty subset of the members in `logits` (name -> validation logits) judged
    by `judge`: best validation F1 first, fewer members first among equals."""
    import numpy as np

    subsets = []
    for k in range(1, len(logits) + 1):
        for combo in itertools.combinations(logits, k):
            x = np.stack([logits[n] for n in combo], axis=1)
            subsets.append({"members": list(combo), **judge(x, y)})
    subsets.sort(key=lambda r: (-r["valid_f1"], len(r["members"])))
    return subsets


def name_list(text: str) -> list[str]:
    """The names of a comma-separated option value, blanks dropped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def emit(result: dict, out: str | None) -> None:
    """Print the benchmark's JSON, and write it to `out` too when given."""
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--members",
        default=",".join(DEFAULT_CANDIDATES),
        help=f"candidates to try, of: {', '.join(CANDIDATES)}",
    )
    ap.add_argument("--fold", type=int, default=0, help="the fold whose validation part judges")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument(
        "--cache",
        help="keep each candidate's validation logits here and reuse them (resume, or split "
        "the candidates across processes)",
    )
    args = ap.parse_args()
    names = name_list(args.members)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        ap.error(f"--members: unknown candidate(s) {unknown}; known: {', '.join(CANDIDATES)}")
    if not 0 <= args.fold < 10:
        ap.error(f"--fold: must be 0-9 (the protocol has 10 folds), got {args.fold}")

    import numpy as np

    from pairlm.models.registry import create

    train, valid = fold_parts(args.fold)
    y = valid.y.astype(int)
    logits, fit_s = {}, {}
    for n in names:
        kept = cache_path(args.cache, args.fold, n) if args.cache else None
        if kept and os.path.exists(kept):
            with np.load(kept) as z:
                if len(z["logits"]) != len(valid):
                    ap.error(f"--cache: {kept} holds {len(z['logits'])} logits, not {len(valid)}")
                logits[n], fit_s[n] = z["logits"], float(z["fit_seconds"])
            print(f"{n}: read from {kept}", file=sys.stderr, flush=True)
            continue
        fam, cfg = candidate(n)
        model = create(fam, cfg)
        t0 = time.perf_counter()
        model.fit(train, valid)
        fit_s[n] = round(time.perf_counter() - t0, 1)
        logits[n] = to_logit(model.predict_proba(valid))
        print(f"{n}: trained in {fit_s[n]} s", file=sys.stderr, flush=True)
        if kept:
            os.makedirs(args.cache, exist_ok=True)
            tmp = kept + ".tmp.npz"
            np.savez(tmp, logits=logits[n], fit_seconds=fit_s[n])
            os.replace(tmp, kept)

    subsets = judge_subsets({n: logits[n] for n in names}, y)
    result = {
        "benchmark": "ensemble_members",
        "protocol": (
            f"qqp-subset, 10-fold stratified seed 0, fold {args.fold}, validation part only"
        ),
        "configs": {n: dict(zip(("family", "config"), candidate(n), strict=True)) for n in names},
        "n_train": len(train),
        "n_valid": len(valid),
        "fit_seconds": fit_s,
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or None,
        "subsets": subsets,
        "best": subsets[0]["members"],
    }
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
