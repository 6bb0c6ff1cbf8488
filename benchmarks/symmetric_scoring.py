"""Does scoring both orders of a pair and averaging (`symmetric = true`) pay? Validation only.

The cross-encoder and the LoRA families read both texts in one input, so their score depends
on which question comes first; QQP's order is arbitrary. `symmetric = true` scores (a, b) and
(b, a) and averages the two probabilities, at twice the scoring cost and with the same trained
weights (it is a scoring key: a run with it resumes the training of the run without it).

One fold (`--fold`, default 0) of the 10-fold QQP protocol of `experiments/qqp-cv.toml`, cut
as `pairlm run` cuts it (`benchmarks/ensemble_members.py`'s `fold_parts`). Each candidate is
one of that file's runs with its config, so it resumes that run's kept training for the fold
from its checkpoint where there is one. Each candidate scores the fold's validation part in
both orders. Reported, one order against both averaged:

- ROC-AUC on the whole validation part (threshold-free);
- held-out-threshold F1: the threshold chosen on a random half of the validation part and F1
  judged on the other half, both ways round, averaged over `--splits` random halvings;
- with `--stack` (members whose validation logits `ensemble_members.py --cache DIR` kept in
  `--stack-cache`, e.g. lexical,biencoder): the ensemble's own cross-fitted validation F1
  and ROC-AUC of those members plus the candidates, one order against both, and the five
  best subsets of them under each (as `ensemble_members.py` chooses members); candidates
  named in `--one-order` score one order in the both-orders stack too.

A candidate with no kept training for the fold trains it first: hours on a CPU for the LLM
candidates (`experiments/qqp-cv.toml`'s runs keep theirs in `runs/ckpt`). The fold's test
part is never read. Prints one JSON object (`--out FILE` also writes it).
`--cache DIR` keeps each candidate's two probability vectors and reuses them (resume, or
candidates scored by separate processes side by side, then judged by one more run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/symmetric_scoring.py --cache runs/sym-cache \
        --candidates crossencoder,smollm2-lora,smollm2-lora-al16,gemma3-lora \
        --stack lexical,biencoder --stack-cache runs/em-cache --out FILE
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ensemble_members import (
    CANDIDATES,
    cache_path,
    candidate,
    emit,
    fold_parts,
    judge_subsets,
    name_list,
    to_logit,
)

ORDER_DEPENDENT = (
    "crossencoder",
    "crossencoder-order",
    "smollm2-lora",
    "smollm2-lora-al16",
    "smollm2-lora-al16-order",
    "gemma3-lora",
)


def held_out_f1(y, scores, splits: int, seed: int = 0) -> float:
    """Mean F1 over random halvings: threshold chosen on one half, F1 judged on the other."""
    import numpy as np

    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.models.thresholds import choose_threshold

    rng = np.random.default_rng(seed)
    f1 = []
    for _ in range(splits):
        perm = rng.permutation(len(y))
        a, b = perm[: len(y) // 2], perm[len(y) // 2 :]
        for fit, held in ((a, b), (b, a)):
            t = choose_threshold(y[fit], scores[fit])
            f1.append(binary_metrics(y[held], scores[held], t)["f1"])
    return float(np.mean(f1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--candidates",
        default=",".join(ORDER_DEPENDENT),
        help=f"order-dependent runs to try, of: {', '.join(ORDER_DEPENDENT)}",
    )
    ap.add_argument("--fold", type=int, default=0, help="the fold whose validation part judges")
    ap.add_argument("--splits", type=int, default=200, help="random halvings for held-out F1")
    ap.add_argument("--cache", help="keep each candidate's two probability vectors here")
    ap.add_argument("--stack", default="", help="symmetric members to stack the candidates with")
    ap.add_argument("--stack-cache", help="ensemble_members.py --cache DIR holding --stack")
    ap.add_argument(
        "--one-order",
        default="",
        help="candidates that score one order in the both-orders stack too (as a stack that "
        "order-averages only some members would)",
    )
    ap.add_argument(
        "--subset",
        action="append",
        default=[],
        help="also report this subset of the stack (comma-separated members; repeatable)",
    )
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    names = name_list(args.candidates)
    bad = [n for n in names if n not in ORDER_DEPENDENT]
    if bad:
        ap.error(
            f"--candidates: {bad} not order-dependent runs; known: {', '.join(ORDER_DEPENDENT)}"
        )
    one_order = name_list(args.one_order)
    bad = [n for n in one_order if n not in names]
    if bad:
        ap.error(f"--one-order: {bad} not among --candidates ({', '.join(names)})")
    stack = name_list(args.stack)
    bad = [n for n in stack if n not in CANDIDATES]
    if bad:
        ap.error(f"--stack: unknown member(s) {bad}; known: {', '.join(CANDIDATES)}")
    subsets_asked = [name_list(sub) for sub in args.subset]
    for sub in subsets_asked:
        bad = [m for m in sub if m not in stack + names]
        if bad or not sub:
            ap.error(f"--subset: {bad or sub} not among the stack's members {stack + names}")
    if stack and not args.stack_cache:
        ap.error("--stack needs --stack-cache (ensemble_members.py --cache DIR)")
    if not 0 <= args.fold < 10:
        ap.error(f"--fold: must be 0-9 (the protocol has 10 folds), got {args.fold}")
    if args.splits < 1:
        ap.error(f"--splits: must be >= 1, got {args.splits}")

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from pairlm.models.base import swap_sides
    from pairlm.models.registry import create

    train, valid = fold_parts(args.fold)
    y = valid.y.astype(int)
    probs, seconds = {}, {}
    for n in names:
        kept = (
            cache_path(args.cache, args.fold, n).replace(".npz", "-both.npz")
            if args.cache
            else None
        )
        if kept and os.path.exists(kept):
            with np.load(kept) as z:
                if len(z["ab"]) != len(valid):
                    ap.error(f"--cache: {kept} holds {len(z['ab'])} pairs, not {len(valid)}")
                probs[n] = (z["ab"], z["ba"])
                seconds[n] = {
                    "fit": float(z["fit_seconds"]),
                    "score_one_order": float(z["score_seconds"]),
                }
            print(f"{n}: read from {kept}", file=sys.stderr, flush=True)
            continue
        fam, cfg = candidate(n)
        model = create(fam, {**cfg, "progress": False})
        t0 = time.perf_counter()
        model.fit(train, valid)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ab = np.asarray(model.predict_proba(valid), dtype=np.float64)
        score_s = time.perf_counter() - t0
        ba = np.asarray(model.predict_proba(swap_sides(valid)), dtype=np.float64)
        probs[n] = (ab, ba)
        seconds[n] = {"fit": round(fit_s, 1), "score_one_order": round(score_s, 1)}
        print(f"{n}: fitted in {fit_s:.0f} s, one order scored in {score_s:.0f} s", file=sys.stderr)
        if kept:
            os.makedirs(args.cache, exist_ok=True)
            tmp = kept + ".tmp.npz"
            np.savez(tmp, ab=ab, ba=ba, fit_seconds=fit_s, score_seconds=score_s)
            os.replace(tmp, kept)

    rows = {}
    for n, (ab, ba) in probs.items():
        both = (ab + ba) / 2.0
        rows[n] = {
            "one_order": {
                "roc_auc": round(float(roc_auc_score(y, ab)), 4),
                "held_out_f1": round(held_out_f1(y, ab, args.splits), 4),
            },
            "both_orders": {
                "roc_auc": round(float(roc_auc_score(y, both)), 4),
                "held_out_f1": round(held_out_f1(y, both, args.splits), 4),
            },
            "reversed_order_only": {"roc_auc": round(float(roc_auc_score(y, ba)), 4)},
            "order_correlation": round(float(np.corrcoef(ab, ba)[0, 1]), 4),
            "seconds": seconds[n],
        }

    stacked = {}
    if stack:
        fixed = []
        for n in stack:
            f = cache_path(args.stack_cache, args.fold, n)
            if not os.path.exists(f):
                ap.error(f"--stack-cache: no {f} (run ensemble_members.py --cache first)")
            with np.load(f) as z:
                fixed.append(z["logits"])

        for label, both in (("one_order", ()), ("both_orders", names)):
            feats = dict(zip(stack, fixed, strict=True))
            for n in names:
                ab, ba = probs[n]
                feats[n] = to_logit((ab + ba) / 2 if n in both and n not in one_order else ab)
            subsets = judge_subsets(feats, y)
            full = next(r for r in subsets if len(r["members"]) == len(feats))
            stacked[label] = {**{k: v for k, v in full.items() if k != "members"}}
            stacked[label]["best_subsets"] = subsets[:5]
            asked = [r for r in subsets if any(set(r["members"]) == set(a) for a in subsets_asked)]
            if asked:
                stacked[label]["asked_subsets"] = asked
    result = {
        "benchmark": "symmetric_scoring",
        "protocol": f"qqp-subset, 10-fold stratified seed 0, fold {args.fold}, validation part only",
        "configs": {n: dict(zip(("family", "config"), candidate(n), strict=True)) for n in names},
        "n_valid": len(valid),
        "splits": args.splits,
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or None,
        "candidates": rows,
        **(
            {"stack": {"members": stack + names, "one_order_members": one_order, **stacked}}
            if stack
            else {}
        ),
    }
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
