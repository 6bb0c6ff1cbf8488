"""Distillation choices on one fold, judged on validation only (issue 42, item 3).

Fold 0 of the 10-fold QQP protocol (stratified, seed 0, 10% of the training part held out
for validation, exactly as `pairlm cv` cuts it). The teacher (default: the
ensemble-order-nodrop-bf16 run of experiments/qqp-cv.toml) is fitted on the fold's training
and validation parts as in its 10-fold run, so a member that keeps checkpoints (its LoRA
member, `checkpoint_dir`) resumes that run's finished fold-0 training. Silver pairs come from
the texts of the fold's training part only, never a pair of its training, validation or test
parts (either order), never a text with itself: one pool per sampler (neighbours, BM25,
random), each in random order, drawn once at the largest size any setting asks; a setting
takes a prefix of each pool it uses (a uniform subsample). The teacher scores the union of
the pools once, every batch cached by pair (`--cache`): a killed study resumes its scoring,
and every setting reads its labels from the cache.

Each setting trains a student on the fold's training pairs plus its silver pairs, with early
stopping and the threshold on the first 500 validation pairs (stratified; the pairs the LoRA
member early-stops on) and is judged on the *rest* of the validation part: F1 at the learned
threshold, the best F1 over thresholds, ROC-AUC, average precision. The fold's test part is
never judged on, so a default chosen here is not tuned to test. (The teacher's stack was
fitted on the whole validation part, as in its 10-fold run: its three stacker weights and its
threshold saw the judged pairs' labels; the students did not.)

Settings (`--grid oat`, the default: one factor at a time around a base of the three samplers
mixed, 1x the gold size, soft labels; `--grid full`: every combination), for each student:
gold only (no silver: the baseline); samplers neighbours, bm25, random, neighbours+bm25,
neighbours+bm25+random; silver size 1x, 2x, 4x the gold pairs; soft or hard labels. Students:
the order-trained cross-encoder (minilm-crossencoder-order's config), a fine-tuned bi-encoder
(contrastive loss on the pairs, then the MLP head) and lexical. The out file is rewritten
after each setting, and settings already in it are not run again (a killed study resumes).

    .venv/bin/python benchmarks/distill_study.py --out results/distill-study/fold0.json \\
        [--ckpt-root /work/main] [--teacher-run NAME | --teacher-config FILE] \\
        [--students lexical,...] [--grid oat|full] [--train N] [--judge N] [--threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fold0 import fold0_parts

_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
os.environ.setdefault("PAIRLM_DATA_DIR", os.path.normpath(_SHARED))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_ROOT = Path(__file__).resolve().parents[1]

STUDENTS: dict[str, dict[str, Any]] = {
    # minilm-crossencoder-order of experiments/qqp-cv.toml, without its checkpoint folder
    "crossencoder-order": {
        "family": "crossencoder",
        "config": {
            "max_train_pairs": 1_000_000,
            "epochs": 1,
            "autocast": "auto",
            "augment": ["order"],
            "augment_ratio": 1.0,
        },
    },
    # the encoder fine-tuned on every pair (the contrastive loss takes soft targets), then
    # the MLP head on its embeddings
    "biencoder-finetune": {
        "family": "biencoder",
        "config": {
            "mode": "finetune",
            "loss": "contrastive",
            "finetune_scoring": "head",
            "max_train_pairs": None,
        },
    },
    "lexical": {"family": "lexical"},
}
MIXES: dict[str, tuple[str, ...]] = {
    "neighbours": ("neighbours",),
    "bm25": ("bm25",),
    "random": ("random",),
    "neighbours+bm25": ("neighbours", "bm25"),
    "neighbours+bm25+random": ("neighbours", "bm25", "random"),
}
SIZES = (1.0, 2.0, 4.0)
LABELS = ("soft", "hard")
BASE = ("neighbours+bm25+random", 1.0, "soft")


def settings(grid: str) -> list[tuple[str, float, str]]:
    """(mix, size, labels) of every setting, after the gold-only baseline ("gold", 0, "-")."""
    if grid == "full":
        combos = list(itertools.product(MIXES, SIZES, LABELS))
    else:
        mix, size, labels = BASE
        combos = [(m, size, labels) for m in MIXES]
        combos += [(mix, s, labels) for s in SIZES if s != size]
        combos += [(mix, size, lab) for lab in LABELS if lab != labels]
    return [("gold", 0.0, "-"), *combos]


def setting_name(student: str, mix: str, size: float, labels: str) -> str:
    return f"{student}/gold" if mix == "gold" else f"{student}/{mix}/{size:g}x/{labels}"


def rebase_checkpoints(config: Any, root: Path) -> Any:
    """`config` with every relative `checkpoint_dir` (members' too) under `root`."""
    if isinstance(config, dict):
        out = {k: rebase_checkpoints(v, root) for k, v in config.items()}
        cd = out.get("checkpoint_dir")
        if isinstance(cd, str) and not os.path.isabs(cd):
            out["checkpoint_dir"] = str(root / cd)
        return out
    if isinstance(config, list):
        return [rebase_checkpoints(v, root) for v in config]
    return config


def teacher_spec(args: argparse.Namespace) -> dict[str, Any]:
    """{family, config} of the teacher: a file's, or a run's of experiments/qqp-cv.toml."""
    if args.teacher_config:
        from pairlm.configfile import load_config_file

        spec = load_config_file(args.teacher_config)
        if "family" not in spec:
            raise SystemExit(f"error: {args.teacher_config} needs `family` (and `config`)")
        spec = {"family": spec["family"], "config": dict(spec.get("config", {}))}
    else:
        from pairlm.experiments.spec import load_experiment

        exp = load_experiment(_ROOT / "experiments" / "qqp-cv.toml")
        run = next((r for r in exp.runs if r.name == args.teacher_run), None)
        if run is None:
            raise SystemExit(f"error: --teacher-run {args.teacher_run!r} is no qqp-cv.toml run")
        if run.max_train or run.subsample:
            raise SystemExit(f"error: {run.name} trains on a subsample; pick a full-fold run")
        spec = {"family": run.model, "config": dict(run.config)}
    if args.ckpt_root:
        spec["config"] = rebase_checkpoints(spec["config"], Path(args.ckpt_root).resolve())
    return spec


def pools_needed(grid: list[tuple[str, float, str]]) -> dict[str, float]:
    """The largest multiple of the gold size each sampler is asked for by any setting."""
    need: dict[str, float] = {}
    for mix, size, _ in grid:
        for s in MIXES.get(mix, ()):
            need[s] = max(need.get(s, 0.0), size / len(MIXES[mix]))
    return need


def run_student(
    name: str, spec: dict[str, Any], train: Any, silver: dict[str, Any], sval: Any, judge: Any
) -> dict[str, Any]:
    import numpy as np

    from pairlm.distill.family import student_data
    from pairlm.evaluation.metrics import binary_metrics

    student, data, soft = student_data(
        spec,
        train,
        silver["a"],
        silver["b"],
        silver["p"],
        silver["hard"],
        silver["sampler"],
        silver["labels"],
    )
    t0 = time.perf_counter()
    student.fit(data, sval)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = student.predict_proba(judge)
    score_s = time.perf_counter() - t0
    m = binary_metrics(judge.y, p, student.threshold_)
    grid = np.unique(np.round(p, 4))
    best = max(
        binary_metrics(judge.y, p, float(t))["f1"] for t in grid[:: max(1, len(grid) // 200)]
    )
    return {
        "student": name.split("/")[0],
        "family": spec["family"],
        "silver_pairs": len(silver["a"]),
        "silver_per_sampler": {
            s: int(sum(1 for x in silver["sampler"] if x == s))
            for s in sorted(set(silver["sampler"]))
        },
        "labels_used": "-" if not len(silver["a"]) else ("soft" if soft else "hard"),
        "train_pairs": len(data),
        "fit_s": round(fit_s, 1),
        "score_pairs_per_s": round(len(judge) / score_s, 1),
        "valid_f1": round(m["f1"], 4),
        "valid_best_f1": round(best, 4),
        "valid_auc": round(m["roc_auc"], 4),
        "valid_ap": round(m["average_precision"], 4) if "average_precision" in m else None,
        "threshold": round(float(student.threshold_), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", required=True, help="the JSON file (rewritten after each setting)")
    ap.add_argument("--teacher-run", default="ensemble-order-nodrop-bf16")
    ap.add_argument("--teacher-config", help="TOML/JSON with the teacher's family and config")
    ap.add_argument(
        "--ckpt-root",
        help="resolve relative checkpoint_dir under this folder (e.g. the checkout whose "
        "runs/ckpt holds the teacher run's trainings; default: the current directory)",
    )
    ap.add_argument("--cache", default="runs/distill-study-cache", help="teacher-score cache")
    ap.add_argument("--students", default=",".join(STUDENTS), help="comma-separated")
    ap.add_argument("--grid", choices=["oat", "full"], default="oat")
    ap.add_argument(
        "--train",
        type=int,
        help="stratified subsample of fold 0's training part (the teacher's too: its checkpoints "
        "then do not match; for trying the script out)",
    )
    ap.add_argument("--judge", type=int, default=2000, help="held-out validation pairs judged")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="seed of the samplers")
    ap.add_argument("--score-batch", type=int, default=256)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("bm25s", "sentence_transformers", "httpx", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    students = [s for s in args.students.split(",") if s]
    unknown = sorted(set(students) - set(STUDENTS))
    if unknown:
        raise SystemExit(f"error: --students: unknown {unknown}; known: {', '.join(STUDENTS)}")

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from pairlm.distill.sampling import distinct_texts, pair_key, pair_keys, sample_silver
    from pairlm.distill.teacher import (
        ScoreCache,
        local_scorer,
        score_pairs,
        trained_fingerprint,
    )
    from pairlm.models.biencoder import BiEncoderClassifier
    from pairlm.models.registry import create

    out_path = Path(args.out)
    out: dict[str, Any] = json.loads(out_path.read_text()) if out_path.is_file() else {}
    out["command"] = " ".join(["benchmarks/distill_study.py", *sys.argv[1:]])
    out.setdefault("settings", {})
    train, valid, test, sval, judge = fold0_parts(args.train, args.judge)
    spec = teacher_spec(args)
    grid = settings(args.grid)

    # the teacher: fitted on the fold's training and validation parts, as in its own run
    t0 = time.perf_counter()
    teacher = create(spec["family"], spec["config"])
    teacher.hold_out(test)
    teacher.fit(train, valid)
    fp = trained_fingerprint(spec["family"], teacher.config, train, valid)
    teacher_info = {
        **spec,
        "fingerprint": fp,
        "fit_s": round(time.perf_counter() - t0, 1),
        "threshold": float(teacher.threshold_),
    }

    # one pool per sampler, each drawn alone (a mix never changes what a sampler draws)
    need = pools_needed(grid)
    texts = distinct_texts(train)
    exclude = pair_keys(train) | pair_keys(valid) | pair_keys(test)
    embed = BiEncoderClassifier(mode="cosine").embed
    pools: dict[str, Any] = {}
    for s, mult in sorted(need.items()):
        count = round(mult * len(train))
        pools[s] = sample_silver(texts, {s: count}, exclude, seed=args.seed, embed=embed)
    union = {
        pair_key(a, b): (a, b) for pool in pools.values() for a, b in zip(pool.text_a, pool.text_b)
    }
    ua = [a for a, _ in union.values()]
    ub = [b for _, b in union.values()]

    t0 = time.perf_counter()
    cache = ScoreCache(args.cache, fp)
    cache.set_meta(teacher=teacher_info)
    p_union, scored_now = score_pairs(
        local_scorer(teacher),
        ua,
        ub,
        cache,
        batch_size=args.score_batch,
    )
    cache.close()
    scores = {k: float(p) for k, p in zip(union, p_union)}
    del teacher
    thr = teacher_info["threshold"]
    pool_p = {
        s: np.array([scores[pair_key(a, b)] for a, b in zip(pool.text_a, pool.text_b)])
        for s, pool in pools.items()
    }
    out["fold"] = 0
    out["teacher"] = teacher_info
    out["caveat"] = (
        "the teacher was fitted on fold 0's whole validation part (as in its 10-fold run, so "
        "its checkpoints are reused): its stacker and threshold saw the judged pairs' labels; "
        "the students' early stopping and thresholds did not"
    )
    out["data"] = {
        "train_pairs": len(train),
        "training_texts": len(texts),
        "student_valid_pairs": len(sval),
        "judged_pairs": len(judge),
        "test_pairs_held_out": len(test),
    }
    out["pools"] = {
        s: {
            "pairs": len(pool),
            "teacher_positive_rate": round(float((pool_p[s] >= thr).mean()), 4),
            "teacher_mean_p": round(float(pool_p[s].mean()), 4),
        }
        for s, pool in pools.items()
    }
    out["teacher_scoring"] = {
        "pairs": len(union),
        "scored_now": int(scored_now),
        "seconds": round(time.perf_counter() - t0, 1),
    }

    for student in students:
        for mix, size, labels in grid:
            name = setting_name(student, mix, size, labels)
            if name in out["settings"] and "error" not in out["settings"][name]:
                continue
            a: list[str] = []
            b: list[str] = []
            p: list[float] = []
            smp: list[str] = []
            for s in MIXES.get(mix, ()):
                k = round(size / len(MIXES[mix]) * len(train))
                pool = pools[s]
                a += pool.text_a[:k]
                b += pool.text_b[:k]
                p += pool_p[s][:k].tolist()
                smp += [s] * min(k, len(pool))
            pa = np.asarray(p)
            silver = {
                "a": a,
                "b": b,
                "p": pa,
                "hard": (pa >= thr).astype(np.int8),
                "sampler": smp,
                "labels": labels if labels != "-" else "hard",
            }
            logging.info("setting %s: %d silver pairs", name, len(a))
            try:
                res = run_student(name, STUDENTS[student], train, silver, sval, judge)
            except Exception as e:  # one setting's failure is recorded, the others go on
                logging.exception("setting %s failed", name)
                res = {"error": f"{type(e).__name__}: {e}"}
            res.update({"mix": mix, "size": size, "labels": labels})
            out["settings"][name] = res
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(out, indent=1) + "\n")
            print(json.dumps({name: res}), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
