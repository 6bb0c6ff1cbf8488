"""LoRA speed choices on one fold, F1 and examples/s side by side, judged on validation only.

The 10-fold QQP protocol's fold 0 (stratified, seed 0, 10% of the training part held out
for validation, exactly as `pairlm cv` cuts it). Each setting fine-tunes LoRA on
`--backbone` (SmolLM2 by default) on a stratified `--train` pairs of the fold's training
part, with early stopping and the threshold on the first `max_valid` (500) validation pairs
(as `llm-lora` does), and is judged on the *rest* of the validation part (pairs no setting
trained, stopped or thresholded on): F1 at the learned threshold, the best F1 over
thresholds, ROC-AUC.
The fold's test part is never touched, so a default chosen here is not tuned to test.

Each setting runs in its own subprocess (its own peak memory). Prints one JSON object.

    .venv/bin/python benchmarks/lora_choices.py [--train 3000] [--judge 1000] [--only NAME]
        [--threads 2] [--backbone smollm2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fold0 import fold0_parts

_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
os.environ.setdefault("PAIRLM_DATA_DIR", os.path.normpath(_SHARED))

# name -> llm-lora config (on top of the family's defaults)
_SHORT_AL16 = {"template": "short", "target_modules": "all-linear", "r": 16, "lora_alpha": 32}
SETTINGS: dict[str, dict] = {
    "default": {},
    "short-prompt": {"template": "short"},
    "short-top15": {"template": "short", "top_layers": 15},
    "short-all-linear-r16": _SHORT_AL16,
    "short-top15-all-linear-r16": {**_SHORT_AL16, "top_layers": 15},
    "short-top15-all-linear-r16-2-epochs": {**_SHORT_AL16, "top_layers": 15, "epochs": 2},
    # the CPU setting without LoRA dropout (a fifth of its training step is dropout masks)
    "short-top15-all-linear-r16-no-dropout": {**_SHORT_AL16, "top_layers": 15, "lora_dropout": 0.0},
    # and with its adapter branch in bf16 (`bf16_adapters`: an approximation, faster)
    "short-top15-all-linear-r16-no-dropout-bf16": {
        **_SHORT_AL16,
        "top_layers": 15,
        "lora_dropout": 0.0,
        "bf16_adapters": True,
    },
    "short-top9-all-linear-r16": {**_SHORT_AL16, "top_layers": 9},
    "short-classification": {"template": "short", "head": "classification"},
    "short-2-epochs": {"template": "short", "epochs": 2},
}


def run_setting(name: str, n_train: int, n_judge: int, threads: int, backbone: str) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.models.llm.lora import LLMLoRAClassifier

    train, valid, _test, _stop, judge = fold0_parts(n_train, n_judge)  # test stays unused
    clf = LLMLoRAClassifier(progress=False, backbone=backbone, **SETTINGS[name])
    t0 = time.perf_counter()
    clf.fit(train, valid)
    fit_s = time.perf_counter() - t0
    steps = clf.state_.step
    t0 = time.perf_counter()
    p = clf.predict_proba(judge)
    score_s = time.perf_counter() - t0
    m = binary_metrics(judge.y, p, clf.threshold_)
    grid = np.unique(np.round(p, 4))
    best = max(
        binary_metrics(judge.y, p, float(t))["f1"] for t in grid[:: max(1, len(grid) // 200)]
    )
    return {
        "config": SETTINGS[name],
        "train_pairs": len(train),
        "steps": steps,
        "fit_s": round(fit_s, 1),
        "examples_per_s": round(steps * clf.config.batch_size / fit_s, 2),
        "score_pairs_per_s": round(len(judge) / score_s, 2),
        "valid_f1": round(m["f1"], 4),
        "valid_best_f1": round(best, 4),
        "valid_auc": round(m["roc_auc"], 4),
        "judged_on": len(judge),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=3000, help="training pairs per setting")
    ap.add_argument("--judge", type=int, default=1000, help="held-out validation pairs judged")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backbone", default="smollm2", help="llm-lora backbone (e.g. gemma3-270m)")
    ap.add_argument("--only", action="append", choices=sorted(SETTINGS))
    ap.add_argument("--out", help="also write the JSON here, after each setting")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(
            json.dumps(
                run_setting(args._child, args.train, args.judge, args.threads, args.backbone)
            )
        )
        return
    out: dict = {"command": " ".join(["benchmarks/lora_choices.py", *sys.argv[1:]])}
    out.update({"fold": 0, "train_pairs": args.train, "threads": args.threads})
    out.update({"backbone": args.backbone, "settings": {}})
    for name in args.only or SETTINGS:
        cmd = [sys.executable, __file__, "--_child", name, "--train", str(args.train)]
        cmd += ["--judge", str(args.judge), "--threads", str(args.threads)]
        cmd += ["--backbone", args.backbone]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            out["settings"][name] = {"error": r.stderr.strip().splitlines()[-1:]}
        else:
            out["settings"][name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(json.dumps({name: out["settings"][name]}), file=sys.stderr, flush=True)
        base = out["settings"].get("default", {}).get("examples_per_s")
        if base:
            for v in out["settings"].values():
                if "examples_per_s" in v:
                    v["speed_ratio_vs_default"] = round(v["examples_per_s"] / base, 2)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
