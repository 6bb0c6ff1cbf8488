"""LoRA / QLoRA training speed on SmolLM2-135M with QQP pairs: naive set-up vs pairlm's,
as examples/s and as a fraction of the bf16 matmul peak measured in the same run.

Settings (each in its own subprocess, so its peak memory is its own; 2 torch threads):

- ``lora_naive``: fp32 weights, every batch padded to 64 tokens, full-sequence LM loss
  (prompt + answer word, labels = inputs) — the usual first SFT script;
- ``lora_pairlm``: pairlm's path in the family defaults (q/v r 8 on every layer, harness
  prompt; length-sorted batches, dynamic padding, loss on the answer at the last position
  only: the decoder body, then the head's answer-token rows as one 2-D product) with its
  default dtype ("auto": bf16 on a GPU or a CPU with AVX512-BF16/AMX, else float32);
  adapters stay fp32;
- ``lora_pairlm_fp32``: the same with float32 base weights (what bf16 adds);
- ``cpu_setting``: pairlm's path in the shipped CPU setting (`configs/smollm2-lora-cpu.toml`:
  short prompt, all-linear r 16 on the top 15 layers, the family's LoRA dropout 0.05);
- ``cpu_setting_no_dropout``: the same without LoRA dropout (a candidate: each of its 105
  adapted modules draws a dropout mask over its input every step); without dropout the
  adapted projections run through pairlm's fused LoRA projection (`models/llm/fused.py`,
  float32 adapter branch: peft's numerics);
- ``cpu_setting_no_dropout_peft``: the same on peft's own `lora.Linear.forward` (the path
  before the fused projection: the baseline of the two above and below);
- ``cpu_setting_bf16``: no dropout and `bf16_adapters` (the adapter branch and its
  gradients in bf16, float32 master weights: an approximation);
- ``qlora_naive`` / ``qlora_pairlm``: the naive and the default pairlm set-up with the base
  in 4-bit NF4 (bitsandbytes; compute dtype fp32 for the naive one, "auto" for pairlm's).

FLOPs per step (`pairlm.models.llm.flops.training_flops`, T real tokens of the batch, N the
non-embedding parameters, H the hidden size, V the vocabulary, L the adapter parameters):
forward 2·(N + L)·T; backward 2·(N_reached + 2L)·T where N_reached is the base parameters
of the layers the backward reaches (every layer for adapters on every layer, the top 15 of
30 in the CPU setting); the LM head 2·H·R·P forward and again backward, with R·P = V·T for
the naive full-sequence loss and (answer-token rows)·B for pairlm's last-position loss.
``fraction_of_bf16_peak`` = those FLOPs / step time / the bf16 2048² matmul GFLOP/s.

Prints one JSON object: per setting examples/s, GFLOP per example, fraction of the bf16
peak, peak RSS; the ratios pairlm/naive.

    .venv/bin/python benchmarks/lora_training.py [--steps 8] [--pairs 400] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
os.environ.setdefault("PAIRLM_DATA_DIR", os.path.normpath(_SHARED))
SETTINGS = (
    "lora_naive",
    "lora_pairlm",
    "cpu_setting",
    "cpu_setting_no_dropout",
    "cpu_setting_no_dropout_peft",
    "cpu_setting_bf16",
    "qlora_naive",
    "qlora_pairlm",
    "lora_pairlm_fp32",
)
CPU_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs")


def _cpu_setting() -> dict:
    """The shipped CPU setting's training keys (`configs/smollm2-lora-cpu.toml`)."""
    import tomllib

    with open(os.path.join(CPU_CONFIG, "smollm2-lora-cpu.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    cfg.pop("symmetric", None)  # a scoring key
    cfg.pop("backbone", None)  # SmolLM2, as every setting here
    return cfg


def _pairs(n: int):
    import numpy as np

    from pairlm.data import load_dataset

    ds = load_dataset("qqp-subset")
    idx = np.sort(np.random.default_rng(0).permutation(len(ds))[:n])
    return ds.subset(idx)


def run_setting(name: str, steps: int, n_pairs: int, batch_size: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(2)
    from pairlm.models.llm.backbone import resolve_dtype
    from pairlm.models.llm.flops import decoder_counts, training_flops
    from pairlm.models.llm.lora import LLMLoRAClassifier
    from pairlm.models.torch_utils import length_sorted_batches, seed_everything

    seed_everything(0)
    naive = name.endswith("naive")
    quant = name.startswith("qlora")
    dtype = "float32" if naive or name.endswith("fp32") else "auto"
    kw: dict = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05}
    if name.startswith("cpu_setting"):
        kw = _cpu_setting()
        if name != "cpu_setting":
            kw["lora_dropout"] = 0.0
        if name == "cpu_setting_bf16":
            kw["bf16_adapters"] = True
    clf = LLMLoRAClassifier(
        backbone="smollm2",
        dtype=dtype,
        device="cpu",
        load_in="4bit" if quant else None,
        progress=False,
        **kw,
    )
    clf.template_ = clf._template()
    clf._build()
    model = clf._rt["model"]
    if name.endswith("_peft"):
        from pairlm.models.llm.fused import unfuse_lora

        unfuse_lora(model)
    model.train()
    pairs = _pairs(n_pairs)
    seqs = clf._encode(pairs)
    y = pairs.y.astype(np.int64)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pad = clf._pad_id()
    answers = clf._rt["answers"].seqs
    counts = decoder_counts(model)
    vocab = int(model.get_base_model().config.vocab_size)
    answer_rows = sum(len(set(f)) for f in clf._rt["answers"].first_tokens)

    if naive:
        # Prompt + answer word, right-padded to 64 tokens, causal LM loss on every token.
        full = [(s + list(answers[int(t)][0]))[-64:] for s, t in zip(seqs, y)]
        rng = np.random.default_rng(0)
        order = rng.permutation(len(full))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def step(b: np.ndarray) -> tuple[float, int, int, float]:
            ids = torch.full((len(b), 64), pad, dtype=torch.long)
            mask = torch.zeros((len(b), 64), dtype=torch.long)
            for j, i in enumerate(b):
                ids[j, : len(full[i])] = torch.tensor(full[i])
                mask[j, : len(full[i])] = 1
            labels = ids.masked_fill(mask == 0, -100)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            real = int(mask.sum())
            return (
                float(loss.detach()),
                real,
                ids.numel(),
                training_flops(counts, real, vocab, real),
            )
    else:
        batches = length_sorted_batches([len(s) for s in seqs], batch_size, shuffle=True)

        def step(b: np.ndarray) -> tuple[float, int, int, float]:
            sub = [seqs[i] for i in b]
            loss = clf._loss(sub, y[b])
            loss.backward()
            real = sum(map(len, sub))
            flops = training_flops(counts, real, answer_rows, len(sub))
            return float(loss.detach()), real, len(sub) * max(map(len, sub)), flops

    times, losses, real, padded, n_ex, flops = [], [], 0, 0, 0, 0.0
    for k in range(steps + 1):  # the first step warms up and is not timed
        b = batches[k % len(batches)]
        t0 = time.perf_counter()
        loss, r, p, f = step(b)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if k:
            times.append(dt)
            losses.append(loss)
            real += r
            padded += p
            n_ex += len(b)
            flops += f
    return {
        "setting": name,
        "config": kw,
        "examples_per_s": round(n_ex / sum(times), 3),
        "gflop_per_example": round(flops / n_ex / 1e9, 2),
        "gflops": round(flops / sum(times) / 1e9, 1),
        "median_step_s": round(float(np.median(times)), 3),
        "steps": steps,
        "batch_size": batch_size,
        "real_tokens": real,
        "padded_tokens": padded,
        "base_dtype": str(resolve_dtype(clf.config.dtype, "cpu")),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--setting", choices=SETTINGS, help="run one setting (internal)")
    ap.add_argument("--only", action="append", choices=SETTINGS)
    args = ap.parse_args()
    if args.setting:
        print(json.dumps(run_setting(args.setting, args.steps, args.pairs, args.batch_size)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1"}
    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    import torch

    from pairlm.models.llm.flops import matmul_peak

    torch.set_num_threads(2)
    peak = {"bfloat16": matmul_peak(torch.bfloat16), "float32": matmul_peak(torch.float32)}
    for name in args.only or SETTINGS:
        cmd = [sys.executable, __file__, "--setting", name, "--steps", str(args.steps)]
        cmd += ["--pairs", str(args.pairs), "--batch-size", str(args.batch_size)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            results[name] = {"error": out.stderr.strip().splitlines()[-1:]}
            continue
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        results[name]["fraction_of_bf16_peak"] = round(
            results[name]["gflops"] / peak["bfloat16"], 3
        )
        print(json.dumps(results[name]), file=sys.stderr, flush=True)  # progress

    def ratio(a: str, b: str, key: str = "examples_per_s") -> float | None:
        if key in results.get(a, {}) and key in results.get(b, {}):
            return round(results[a][key] / results[b][key], 2)
        return None

    from pairlm.models.llm.backbone import cpu_has_bf16

    print(
        json.dumps(
            {
                "benchmark": "lora_training",
                "backbone": "SmolLM2-135M-Instruct",
                "data": "qqp-subset",
                "threads": 2,
                "cpu_bf16": cpu_has_bf16(),
                "lora": "r=8 on q_proj,v_proj (cpu_setting: configs/smollm2-lora-cpu.toml)",
                "matmul_2048_gflops": {k: round(v, 1) for k, v in peak.items()},
                "settings": results,
                "speedup_no_dropout_vs_cpu_setting": ratio("cpu_setting_no_dropout", "cpu_setting"),
                "speedup_fused_vs_peft_no_dropout": ratio(
                    "cpu_setting_no_dropout", "cpu_setting_no_dropout_peft"
                ),
                "speedup_bf16_vs_peft_no_dropout": ratio(
                    "cpu_setting_bf16", "cpu_setting_no_dropout_peft"
                ),
                "speedup_bf16_vs_cpu_setting": ratio("cpu_setting_bf16", "cpu_setting"),
                "speedup_lora_pairlm_vs_naive": ratio("lora_pairlm", "lora_naive"),
                "speedup_lora_pairlm_fp32_vs_naive": ratio("lora_pairlm_fp32", "lora_naive"),
                "dtype_gain_lora_auto_vs_fp32": ratio("lora_pairlm", "lora_pairlm_fp32"),
                "speedup_qlora_pairlm_vs_naive": ratio("qlora_pairlm", "qlora_naive"),
                "memory_ratio_lora_pairlm_vs_naive": ratio(
                    "lora_pairlm", "lora_naive", "peak_rss_mb"
                ),
                "memory_ratio_qlora_pairlm_vs_naive": ratio(
                    "qlora_pairlm", "qlora_naive", "peak_rss_mb"
                ),
                "targets": {
                    "lora_pairlm_vs_naive": ">= 8x examples/s of the naive set-up",
                    "cpu_setting_fraction_of_bf16_peak": ">= 0.45",
                    "cpu_setting_met": results.get("cpu_setting", {}).get(
                        "fraction_of_bf16_peak", 0.0
                    )
                    >= 0.45,
                },
                "seconds": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
