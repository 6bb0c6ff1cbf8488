"""Benchmark: pairs/s of LLM yes/no scoring, naive vs pairlm's way, at 0, 4 and 8 shots.

SmolLM2-135M-Instruct, 2 torch threads, QQP pairs from the shared data
(`$PAIRLM_DATA_DIR` or ../shared/data), lm-evaluation-harness prompt.

- naive: the full prompt per pair (demonstrations re-encoded for every pair), every batch
  padded to 64 tokens (n-shot: to the longest prompt rounded up to a multiple of 64),
  float32, all logits computed, pairs in file order, batch 8.
- pairlm: `PromptScorer` — dtype "auto" (bf16 on this CPU), length-sorted batches with
  dynamic padding, `logits_to_keep=1`, demonstrations' key/value cache computed once and
  attended to once per layer for the whole batch (`models/llm/prefix_attention.py`).
  n-shot entries also time `pairlm_per_prompt_prefix`: the same pairs with each prompt given
  its own copy of the prefix's keys and values (the path before the shared-prefix
  attention), with the speedup and the largest |P| difference (bf16 rounding: the two paths
  round differently; in float32 they agree to 1e-5, `tests/models/llm/test_prefix_attention.py`).

Also: pairlm zero-shot in float32 (what bf16 buys), and the largest |P(match)| difference
between the two ways on the pairs both scored.

- adapter: LoRA-adapter scoring in the shipped CPU setting (`configs/smollm2-lora-cpu.toml`:
  short prompt, all-linear r 16 on the top 15 layers, both orders of each pair scored and
  averaged), through `LLMLoRAClassifier.predict_proba`. The adapter's B matrices are drawn
  N(0, 0.03²) (seeded; peft starts them at zero, and 0.03 is the spread of a trained fold-0
  adapter's B) so that the branch changes the scores. pairs/s counts pairs, each scored twice.
  Three ways, on the same model and pairs: `pairlm` (the fused LoRA projection with a float32
  adapter branch: `models/llm/fused.py`, peft's numerics, the default), `peft` (peft's own
  `lora.Linear.forward`: the path before the fused projection) and `bf16_adapters` (the
  branch in bf16: an approximation), each with its largest |P| difference from `peft`.

FLOPs (`pairlm.models.llm.flops.forward_flops`): 2·N·T for the decoder on the T non-pad
tokens actually run (n-shot: the demonstrations' cached prefix once, plus every suffix; the
adapter path: both orders, plus 2·L·T for the adapter's L parameters), plus, for the
adapter path, the LM head's answer-token rows at the last position (the prompting paths
compute the whole vocabulary at the last position, `logits_to_keep=1`: 2·H·V a pair, under 1%
of the decoder's work at these lengths, not counted). `fraction_of_bf16_peak`
sets those FLOPs per second against a bf16 2048² matmul measured in the same run (and
`useful_gflops` is the same figure in GFLOP/s). Prints one JSON object.

    .venv/bin/python benchmarks/llm_scoring.py [--pairs 256] [--naive-pairs 96]
        [--adapter-pairs 256] [--shots 0,4,8]
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


def adapter_scores(ta: list[str], tb: list[str], batch_size: int) -> dict[str, dict]:
    """pairs/s and the fraction of the bf16 peak of LoRA-adapter scoring in the CPU setting,
    both orders, the three ways of the module docstring."""
    import tomllib

    import torch

    from pairlm.data.pairs import PairDataset
    from pairlm.models.base import swap_sides
    from pairlm.models.llm.flops import decoder_counts, forward_flops
    from pairlm.models.llm.fused import fuse_lora, unfuse_lora
    from pairlm.models.llm.lora import LLMLoRAClassifier

    with (REPO / "configs" / "smollm2-lora-cpu.toml").open("rb") as fh:
        cfg = tomllib.load(fh)
    cfg.update(device="cpu", progress=False, eval_batch_size=batch_size)
    clf = LLMLoRAClassifier(**cfg)
    clf.template_ = clf._template()
    clf._build()
    model = clf._rt["model"]
    model.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.03)
    clf.threshold_ = 0.5
    pairs = PairDataset.from_pairs(ta, tb)
    tokens = sum(map(len, clf._encode(pairs))) + sum(map(len, clf._encode(swap_sides(pairs))))
    rows = sum(len(set(f)) for f in clf._rt["answers"].first_tokens)
    flops = forward_flops(decoder_counts(model), tokens, rows, 2 * len(pairs))
    out: dict[str, dict] = {}
    probs: dict[str, np.ndarray] = {}
    for way in ("peft", "pairlm", "bf16_adapters", "peft_again"):
        if way.startswith("peft"):
            unfuse_lora(model)
        else:
            fuse_lora(model, low_precision=way == "bf16_adapters")
        clf.predict_proba(PairDataset.from_pairs(ta[:8], tb[:8]))  # warm-up
        t0 = time.perf_counter()
        probs[way] = clf.predict_proba(pairs)
        seconds = time.perf_counter() - t0
        out[way] = {
            "pairs": len(pairs),
            "orders": 2,
            "pairs_per_s": round(len(pairs) / seconds, 2),
            "tokens_per_pair": round(tokens / len(pairs), 1),
            "gflop_per_pair": round(flops / len(pairs) / 1e9, 2),
            "useful_gflops": round(flops / seconds / 1e9, 1),
            "max_abs_p_diff_vs_peft": round(float(np.max(np.abs(probs[way] - probs["peft"]))), 5),
        }
    # peft timed before and after the others: its mean is the baseline (machine drift)
    again = out.pop("peft_again")
    out["peft"]["pairs_per_s"] = round((out["peft"]["pairs_per_s"] + again["pairs_per_s"]) / 2, 2)
    out["peft"]["useful_gflops"] = round(
        (out["peft"]["useful_gflops"] + again["useful_gflops"]) / 2, 1
    )
    for way in ("pairlm", "bf16_adapters"):
        out[way]["speedup_vs_peft"] = round(out[way]["pairs_per_s"] / out["peft"]["pairs_per_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=256, help="pairs per pairlm setting")
    ap.add_argument("--naive-pairs", type=int, default=96, help="pairs per naive setting")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--template", default="harness")
    ap.add_argument("--shots", default="0,4,8")
    ap.add_argument("--adapter-pairs", type=int, default=256, help="0: skip the adapter path")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pairlm.data.pairs import PairDataset
    from pairlm.models.llm.backbone import load_backbone, resolve_dtype
    from pairlm.models.llm.flops import matmul_peak
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
        if n > 0:
            # The same pairs with each prompt's own copy of the prefix's keys and values
            # (the path before `prefix_attention`), timed right after the shared one.
            plain = PromptScorer(
                fast.model,
                fast.tokenizer,
                answers,
                batch_size=args.batch_size,
                shared_prefix_attention=False,
            )
            plain.score(parts[:8])
            plain_p = p_match(plain.score(parts))
            entry["pairlm_per_prompt_prefix"] = {
                "pairs_per_s": round(len(parts) / plain.stats.seconds, 2),
                "shared_prefix_speedup": round(plain.stats.seconds / st.seconds, 2),
                "max_abs_p_diff": round(float(np.abs(plain_p - fast_p).max()), 4),
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
    if args.adapter_pairs:
        k = min(args.adapter_pairs, len(ta))
        adapter = adapter_scores(ta[:k], tb[:k], args.batch_size)
        for entry in adapter.values():
            entry["fraction_of_bf16_peak"] = round(entry["useful_gflops"] / peak_bf16, 3)
        results["adapter"] = adapter
        print(f"adapter: {json.dumps(adapter)}", file=sys.stderr)

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
    targets: dict[str, object] = {}
    if zero:
        frac = results["0-shot"]["pairlm"]["fraction_of_bf16_peak"]  # type: ignore[index]
        targets.update(
            zero_shot_pairs_per_s=zero,
            zero_shot_fraction_of_bf16_peak=frac,
            zero_shot_fraction_target=0.6,
            zero_shot_met=frac >= 0.6,
        )
        if "8-shot" in results:
            eight = results["8-shot"]["pairlm"]["pairs_per_s"]  # type: ignore[index]
            targets.update(
                eight_shot_over_zero_shot=round(eight / zero, 3),
                eight_shot_target_ratio=0.6,
                eight_shot_met=eight / zero >= 0.6,
            )
    if "adapter" in results:
        frac = results["adapter"]["pairlm"]["fraction_of_bf16_peak"]  # type: ignore[index]
        targets.update(
            adapter_speedup_vs_peft=results["adapter"]["pairlm"]["speedup_vs_peft"],  # type: ignore[index]
            adapter_bf16_speedup_vs_peft=results["adapter"]["bf16_adapters"]["speedup_vs_peft"],  # type: ignore[index]
            adapter_fraction_of_bf16_peak=frac,
            adapter_fraction_target=0.45,
            adapter_met=frac >= 0.45,
        )
    summary["targets"] = targets
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
