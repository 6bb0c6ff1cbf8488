"""Benchmark: pairs/s of LLM yes/no scoring, naive vs pairlm's way, at 0, 4 and 8 shots.

SmolLM2-135M-Instruct, 2 torch threads, QQP pairs from the shared data
(`$PAIRLM_DATA_DIR` or ../shared/data), lm-evaluation-harness prompt.

- naive: the full prompt per pair (demonstrations re-encoded for every pair), every batch
  padded to 64 tokens (n-shot: to the longest prompt rounded up to a multiple of 64),
  float32, all logits computed, pairs in file order, batch 8.
- pairlm: `PromptScorer` — dtype "auto" (bf16 on this CPU), length-sorted batches with
  dynamic padding, `logits_to_keep=1`, demonstrations' key/value cache computed once.

Also: pairlm zero-shot in float32 (what bf16 buys), useful-token GFLOP/s
(2 × non-embedding params × non-pad tokens / s) against a bf16 (and fp32) 2048² matmul peak
measured in the same run, and the largest |P(match)| difference between the two ways on the
pairs both scored. Prints one JSON object.

    .venv/bin/python benchmarks/llm_scoring.py [--pairs 256] [--naive-pairs 96]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_file() -> Path:
    env = os.environ.get("PAIRLM_DATA_DIR")
    for d in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        f = d / "qqp" / "glue-train-subset.tsv"
        if f.is_file():
            return f
    sys.exit("QQP data not found: set PAIRLM_DATA_DIR to the shared data directory")


def read_qqp(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    a, b, y = [], [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) != 6 or row[5] not in ("0", "1"):
                continue  # the file's one malformed line
            a.append(row[3])
            b.append(row[4])
            y.append(int(row[5]))
    return a, b, np.asarray(y)


def matmul_peak(dtype: object, n: int = 2048, reps: int = 10) -> float:
    import torch

    x = torch.randn(n, n).to(dtype)
    w = torch.randn(n, n).to(dtype)
    for _ in range(2):
        x @ w
    t0 = time.perf_counter()
    for _ in range(reps):
        x @ w
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def naive_scores(
    model, tok, prompts: list[str], answers, batch: int = 8
) -> tuple[np.ndarray, int, float]:
    """Full prompt per pair, fixed padding to a multiple of 64, all logits, no cache."""
    import torch

    from pairlm.models.llm.scoring import bos_ids

    bos = bos_ids(tok)
    ids = [bos + tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    pad_to = 64 * ((max(len(i) for i in ids) + 63) // 64)
    first0, first1 = answers.first_tokens
    out = np.zeros(len(prompts))
    tokens = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(ids), batch):
            chunk = ids[s : s + batch]
            x = torch.full((len(chunk), pad_to), tok.pad_token_id, dtype=torch.long)
            m = torch.zeros_like(x)
            for i, row in enumerate(chunk):
                x[i, pad_to - len(row) :] = torch.tensor(row)
                m[i, pad_to - len(row) :] = 1
            pos = (m.cumsum(1) - 1).clamp(min=0)
            logits = model(input_ids=x, attention_mask=m, position_ids=pos, use_cache=False).logits
            lp = logits[:, -1].float().log_softmax(-1)
            s0 = torch.logsumexp(lp[:, first0], -1)
            s1 = torch.logsumexp(lp[:, first1], -1)
            out[s : s + len(chunk)] = torch.sigmoid(s1 - s0).numpy()
            tokens += int(m.sum())
    return out, tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=256, help="pairs per pairlm setting")
    ap.add_argument("--naive-pairs", type=int, default=96, help="pairs per naive setting")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--template", default="harness")
    ap.add_argument("--shots", default="0,4,8")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pairlm.data.pairs import PairDataset
    from pairlm.models.llm.backbone import load_backbone, resolve_dtype
    from pairlm.models.llm.prompting import select_balanced
    from pairlm.models.llm.prompts import Verbaliser, get_template
    from pairlm.models.llm.scoring import PromptScorer, p_match

    a, b, y = read_qqp(data_file())
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(a))
    demo_pool = PairDataset.from_pairs(
        [a[i] for i in perm[:2000]], [b[i] for i in perm[:2000]], y[perm[:2000]]
    )
    test = perm[2000 : 2000 + args.pairs]
    ta, tb = [a[i] for i in test], [b[i] for i in test]

    peak_bf16 = matmul_peak(torch.bfloat16)
    peak_fp32 = matmul_peak(torch.float32)
    auto_dtype = resolve_dtype("auto", "cpu")
    t0 = time.perf_counter()
    fast = load_backbone("smollm2", dtype="auto", device="cpu")
    load_s = time.perf_counter() - t0
    ref = load_backbone("smollm2", dtype="float32", device="cpu")
    n_params = fast.non_embedding_params
    template = get_template(args.template)
    verb = Verbaliser.from_words(template.no, template.yes, answer_prefix=template.answer_prefix)
    answers = verb.tokenize(fast.tokenizer, template.answer_context(fast.tokenizer))

    def gflops(tokens: int, seconds: float) -> float:
        return 2 * n_params * tokens / seconds / 1e9

    results: dict[str, object] = {}
    for n in [int(s) for s in args.shots.split(",")]:
        demos = select_balanced(demo_pool, n, seed=0) if n else []
        parts = [
            template.render(x, z, demos, tokenizer=fast.tokenizer, verbaliser=verb)
            for x, z in zip(ta, tb)
        ]
        # naive (fp32, padded, full prompt, all logits)
        k = (
            min(args.naive_pairs, len(parts))
            if n == 0
            else min(max(16, args.naive_pairs // (1 + n // 2)), len(parts))
        )
        naive_p, naive_tok, naive_s = naive_scores(
            ref.model, ref.tokenizer, [p.text for p in parts[:k]], answers
        )
        # pairlm's way
        scorer = PromptScorer(fast.model, fast.tokenizer, answers, batch_size=args.batch_size)
        scorer.score(parts[:8])  # warm-up
        scores = scorer.score(parts)
        st = scorer.stats
        fast_p = p_match(scores)
        entry = {
            "naive": {
                "pairs": k,
                "pairs_per_s": round(k / naive_s, 2),
                "nonpad_tokens_per_pair": round(naive_tok / k, 1),
                "useful_gflops": round(gflops(naive_tok, naive_s), 1),
                "fraction_of_bf16_peak": round(gflops(naive_tok, naive_s) / peak_bf16, 3),
            },
            "pairlm": {
                "pairs": len(parts),
                "pairs_per_s": round(len(parts) / st.seconds, 2),
                "prefix_tokens": st.prefix_tokens,
                "suffix_tokens_per_pair": round((st.tokens - st.prefix_tokens) / len(parts), 1),
                "padding_overhead": round(
                    st.padded_tokens / max(1, st.tokens - st.prefix_tokens) - 1, 3
                ),
                "useful_gflops": round(gflops(st.tokens, st.seconds), 1),
                "fraction_of_bf16_peak": round(gflops(st.tokens, st.seconds) / peak_bf16, 3),
            },
            "speedup": round((len(parts) / st.seconds) / (k / naive_s), 2),
            "max_abs_p_diff_vs_naive": round(float(np.abs(fast_p[:k] - naive_p).max()), 4),
        }
        if n == 0 and auto_dtype != torch.float32:
            m = min(96, len(parts))  # same pairs in both dtypes
            s32 = PromptScorer(ref.model, ref.tokenizer, answers, batch_size=args.batch_size)
            s32.score(parts[:8])
            s32.score(parts[:m])
            scorer.score(parts[:m])
            entry["pairlm_float32"] = {
                "pairs": m,
                "pairs_per_s": round(m / s32.stats.seconds, 2),
                "bf16_pairs_per_s_same_pairs": round(m / scorer.stats.seconds, 2),
                "bf16_speedup": round(s32.stats.seconds / scorer.stats.seconds, 2),
            }
        results[f"{n}-shot"] = entry
        print(f"{n}-shot: {json.dumps(entry)}", file=sys.stderr)

    zero = (
        results.get("0-shot", {}).get("pairlm", {}).get("pairs_per_s")
        if "0-shot" in results
        else None
    )
    summary: dict[str, object] = {
        "benchmark": "llm_scoring",
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1 dequantized)",
        "template": args.template,
        "threads": args.threads,
        "auto_dtype": str(auto_dtype),
        "batch_size": args.batch_size,
        "non_embedding_params": n_params,
        "load_seconds_cached": round(load_s, 2),
        "matmul_2048_gflops": {"bfloat16": round(peak_bf16, 1), "float32": round(peak_fp32, 1)},
        "results": results,
        "targets": {},
    }
    if zero:
        summary["targets"] = {
            "zero_shot_pairs_per_s": zero,
            "zero_shot_target": 25,
            "zero_shot_met": zero >= 25,
        }
        if "8-shot" in results:
            eight = results["8-shot"]["pairlm"]["pairs_per_s"]
            summary["targets"].update(
                {
                    "eight_shot_over_zero_shot": round(eight / zero, 3),
                    "eight_shot_target_ratio": 0.5,
                    "eight_shot_met": eight / zero >= 0.5,
                }
            )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
