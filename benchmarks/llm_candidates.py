"""Candidate speed-ups for the LLM paths, each measured against pairlm's path in the same run
(issue 41, item 2: "measure each candidate alone, keep it only where it pays, and record the
measurement"), and where the time of today's path goes.

SmolLM2-135M-Instruct, QQP pairs of the shared data, each candidate in its own subprocess.

- ``profile``: torch profiler self-CPU time of zero-shot scoring (harness prompt, batch 32,
  256 pairs) and of a LoRA training step in the run's CPU setting (`configs/smollm2-lora-cpu.toml`
  with no LoRA dropout and `bf16_adapters`, batch 8), split into matrix products (mm, addmm,
  bmm), the attention kernel (SDPA / flash; softmax: training runs eager attention, whose
  two products count as matrix products) and everything else (elementwise,
  casts, copies, the optimizer); plus the GFLOP/s the products themselves reach
  (their FLOPs counted by the profiler), as a fraction of the bf16 2048² peak.
- ``compile_scoring``: zero-shot scoring through `torch.compile(decoder, dynamic=True)`
  against the eager model on the same pairs: pairs/s, the first call's compile seconds,
  the largest |ΔP|.
- ``int8_scoring``: `torch.ao.quantization.quantize_dynamic` (int8 weights, per-batch int8
  activations, VNNI kernels) of the float32 model against bf16 ("auto") and float32, with
  |ΔP| against float32.
- ``fused_projections``: the q/k/v and gate/up products of one SmolLM2 layer as separate
  bf16 matmuls against one product with the weights concatenated, at a training batch
  (8 × 52 tokens) and a scoring batch (32 × 52).
- ``thread_layout``: CPU-setting training, one process on two threads against two processes
  on one thread each running at once (what `pairlm run` does with two workers), summed.
- ``compile_training``: CPU-setting training steps with the decoder compiled
  (`torch.compile(dynamic=True)`) against eager, on the same batches: examples/s,
  compile seconds, the loss difference on the timed steps.

Training candidates time the same length-sorted, shuffled batches (seed 0) in the same order,
after one warm-up step (for the compiled decoder: after the steps that compile). Prints one
JSON object.

    .venv/bin/python benchmarks/llm_candidates.py [--only NAME ...] [--steps 12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

_SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
os.environ.setdefault("PAIRLM_DATA_DIR", os.path.normpath(_SHARED))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CANDIDATES = (
    "profile",
    "compile_scoring",
    "int8_scoring",
    "fused_projections",
    "thread_layout",
    "compile_training",
)


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _scoring_setup(dtype: str) -> tuple[Any, Any, list[Any]]:
    """(backbone, answer tokens, 256 zero-shot prompts) as benchmarks/llm_scoring.py builds them."""
    import numpy as np

    from llm_scoring import data_file, read_qqp
    from pairlm.models.llm.backbone import load_backbone
    from pairlm.models.llm.prompts import Verbaliser, get_template

    a, b, _y = read_qqp(data_file())
    perm = np.random.default_rng(0).permutation(len(a))[2000 : 2000 + 256]
    bb = load_backbone("smollm2", dtype=dtype, device="cpu", shared=False)
    t = get_template("harness")
    verb = Verbaliser.from_words(t.no, t.yes, answer_prefix=t.answer_prefix)
    answers = verb.tokenize(bb.tokenizer, t.answer_context(bb.tokenizer))
    parts = [
        t.render(a[i], b[i], [], tokenizer=bb.tokenizer, verbaliser=verb) for i in perm.tolist()
    ]
    return bb, answers, parts


def _score(model: Any, bb: Any, answers: Any, parts: list[Any]) -> tuple[Any, float]:
    """(P(match) of every prompt, pairs/s) after a one-batch warm-up."""
    from pairlm.models.llm.scoring import PromptScorer, p_match

    sc = PromptScorer(model, bb.tokenizer, answers, batch_size=32, show_progress=False)
    sc.score(parts[:32])
    t0 = time.perf_counter()
    s = sc.score(parts)
    return p_match(s), len(parts) / (time.perf_counter() - t0)


def _trainer(steps: int) -> tuple[Any, Any]:
    """(one training step on batch k, the batches): the CPU setting as the 10-fold run trains
    it (no LoRA dropout, bf16 adapter branch), batch 8, AdamW."""
    import numpy as np
    import torch

    from lora_training import _cpu_setting, _pairs
    from pairlm.models.llm.lora import LLMLoRAClassifier
    from pairlm.models.torch_utils import length_sorted_batches, seed_everything

    seed_everything(0)
    kw = {**_cpu_setting(), "lora_dropout": 0.0, "bf16_adapters": True}
    clf = LLMLoRAClassifier(backbone="smollm2", dtype="auto", device="cpu", progress=False, **kw)
    clf.template_ = clf._template()
    clf._build()
    model = clf._rt["model"]
    model.train()
    pairs = _pairs(400)
    seqs = clf._encode(pairs)
    y = pairs.y.astype(np.int64)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches = length_sorted_batches([len(s) for s in seqs], 8, shuffle=True)

    def step(k: int) -> tuple[float, int, int]:
        b = batches[k % len(batches)]
        sub = [seqs[i] for i in b]
        loss = clf._loss(sub, y[b])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach()), len(b), sum(map(len, sub))

    step.clf = clf  # type: ignore[attr-defined]
    return step, batches


def _timed(step: Any, first: int, steps: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    losses, ex, tok = [], 0, 0
    for k in range(first, first + steps):
        loss, n, t = step(k)
        losses.append(loss)
        ex, tok = ex + n, tok + t
    dt = time.perf_counter() - t0
    return {
        "examples_per_s": round(ex / dt, 2),
        "tokens_per_s": round(tok / dt, 1),
        "losses": [round(v, 5) for v in losses],
    }


def profile(steps: int) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    def split(prof: Any) -> dict[str, Any]:
        mm = attn = other = 0.0
        mm_flops = 0.0
        for e in prof.key_averages():
            name, t = e.key, e.self_cpu_time_total
            if name in ("aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm"):
                mm += t
                mm_flops += e.flops or 0.0
            elif "scaled_dot_product" in name or "softmax" in name:
                attn += t
            else:
                other += t
        total = mm + attn + other
        return {
            "matmul_share": round(mm / total, 3),
            "attention_share": round(attn / total, 3),
            "other_share": round(other / total, 3),
            "matmul_gflops": round(mm_flops / (mm * 1e-6) / 1e9, 1) if mm and mm_flops else None,
        }

    bb, answers, parts = _scoring_setup("auto")
    from pairlm.models.llm.scoring import PromptScorer

    sc = PromptScorer(bb.model, bb.tokenizer, answers, batch_size=32, show_progress=False)
    sc.score(parts[:32])
    with torch_profile(activities=[ProfilerActivity.CPU], with_flops=True) as p:
        sc.score(parts[:96])
    out = {"zero_shot_scoring": split(p)}
    del bb, sc
    step, _ = _trainer(steps)
    step(0)
    with torch_profile(activities=[ProfilerActivity.CPU], with_flops=True) as p:
        for k in range(1, 1 + min(steps, 6)):
            step(k)
    out["training_step"] = split(p)
    return out


def compile_scoring(steps: int) -> dict[str, Any]:
    import numpy as np
    import torch

    bb, answers, parts = _scoring_setup("auto")
    p_eager, eager = _score(bb.model, bb, answers, parts)
    head = bb.model.get_decoder()
    compiled = torch.compile(head, dynamic=True)
    bb.model.model = compiled  # the causal LM calls self.model(...)
    t0 = time.perf_counter()
    _score(bb.model, bb, answers, parts[:64])
    warm = time.perf_counter() - t0
    p_comp, comp = _score(bb.model, bb, answers, parts)
    return {
        "eager_pairs_per_s": round(eager, 2),
        "compiled_pairs_per_s": round(comp, 2),
        "speedup": round(comp / eager, 2),
        "compile_seconds": round(warm, 1),
        "max_abs_p_diff": round(float(np.abs(p_comp - p_eager).max()), 4),
    }


def int8_scoring(steps: int) -> dict[str, Any]:
    import numpy as np
    import torch

    bb, answers, parts = _scoring_setup("auto")
    p_bf16, bf16 = _score(bb.model, bb, answers, parts)
    del bb
    bb, answers, parts = _scoring_setup("float32")
    p32, fp32 = _score(bb.model, bb, answers, parts)
    q = torch.ao.quantization.quantize_dynamic(bb.model, {torch.nn.Linear}, dtype=torch.qint8)
    p8, int8 = _score(q, bb, answers, parts)
    return {
        "bf16_pairs_per_s": round(bf16, 2),
        "float32_pairs_per_s": round(fp32, 2),
        "int8_dynamic_pairs_per_s": round(int8, 2),
        "int8_over_bf16": round(int8 / bf16, 2),
        "bf16_max_abs_p_diff_vs_float32": round(float(np.abs(p_bf16 - p32).max()), 4),
        "int8_max_abs_p_diff_vs_float32": round(float(np.abs(p8 - p32).max()), 4),
        "int8_mean_abs_p_diff_vs_float32": round(float(np.abs(p8 - p32).mean()), 4),
    }


def fused_projections(steps: int) -> dict[str, Any]:
    import torch

    f = torch.nn.functional.linear

    def best(fn: Any, n: int = 100) -> float:
        for _ in range(5):
            fn()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times.append((time.perf_counter() - t0) / n)
        return min(times)

    def one_size(rows: int, g: Any) -> dict[str, Any]:
        x = torch.randn(rows, 576, generator=g).bfloat16()
        q, k, v = (torch.randn(n, 576, generator=g).bfloat16() for n in (576, 192, 192))
        gate, up = (torch.randn(1536, 576, generator=g).bfloat16() for _ in range(2))
        qkv, gu = torch.cat([q, k, v]), torch.cat([gate, up])
        sep_qkv = best(lambda: (f(x, q), f(x, k), f(x, v)))
        one_qkv = best(lambda: f(x, qkv))
        sep_gu = best(lambda: (f(x, gate), f(x, up)))
        one_gu = best(lambda: f(x, gu))

        def gf(n: int, s: float) -> float:
            return round(2 * rows * 576 * n / s / 1e9, 1)

        return {
            "qkv_separate_gflops": gf(960, sep_qkv),
            "qkv_fused_gflops": gf(960, one_qkv),
            "qkv_speedup": round(sep_qkv / one_qkv, 2),
            "gate_up_separate_gflops": gf(3072, sep_gu),
            "gate_up_fused_gflops": gf(3072, one_gu),
            "gate_up_speedup": round(sep_gu / one_gu, 2),
        }

    g = torch.Generator().manual_seed(0)
    return {"batch_8x52": one_size(8 * 52, g), "batch_32x52": one_size(32 * 52, g)}


def _train_child(steps: int) -> dict[str, Any]:
    step, _ = _trainer(steps)
    step(0)
    return _timed(step, 1, steps)


def thread_layout(steps: int) -> dict[str, Any]:
    def child(threads: int) -> subprocess.Popen[str]:
        cmd = [sys.executable, __file__, "--child", "train", "--steps", str(steps)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PAIRLM_BENCH_THREADS": str(threads)}
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)

    def result(p: subprocess.Popen[str]) -> dict[str, Any]:
        out, _ = p.communicate()
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]

    one = result(child(2))
    pair = [child(1), child(1)]
    two = [result(p) for p in pair]
    total = sum(r["examples_per_s"] for r in two)
    return {
        "one_process_two_threads_examples_per_s": one["examples_per_s"],
        "two_processes_one_thread_examples_per_s": [r["examples_per_s"] for r in two],
        "two_processes_total_examples_per_s": round(total, 2),
        "two_over_one": round(total / one["examples_per_s"], 2),
    }


def compile_training(steps: int) -> dict[str, Any]:
    import torch

    step, batches = _trainer(steps)
    step(0)
    eager = _timed(step, 1, steps)
    clf = step.clf  # type: ignore[attr-defined]
    head = clf._rt["answer_head"]
    head.decoder = torch.compile(head.decoder, dynamic=True)
    t0 = time.perf_counter()
    for k in range(1 + steps, 1 + steps + 3):  # compiles forward and backward
        step(k)
    warm = time.perf_counter() - t0
    # the same batches again (the weights have moved on: losses differ by training, not numerics)
    comp = _timed(step, 1, steps)
    return {
        "eager": eager,
        "compiled": comp,
        "speedup": round(comp["examples_per_s"] / eager["examples_per_s"], 2),
        "compile_seconds_3_steps": round(warm, 1),
        "batches": len(batches),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=CANDIDATES)
    ap.add_argument("--steps", type=int, default=12, help="timed training steps")
    ap.add_argument("--candidate", choices=CANDIDATES, help="run one candidate (internal)")
    ap.add_argument("--child", choices=["train"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _threads(int(os.environ.get("PAIRLM_BENCH_THREADS", "2")))
        print(json.dumps(_train_child(args.steps)))
        return
    if args.candidate:
        _threads(2)
        print(json.dumps(globals()[args.candidate](args.steps)))
        return
    import torch

    from pairlm.models.llm.backbone import cpu_has_bf16
    from pairlm.models.llm.flops import matmul_peak

    _threads(2)
    peak = {"bfloat16": matmul_peak(torch.bfloat16), "float32": matmul_peak(torch.float32)}
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}
    results: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name in args.only or CANDIDATES:
        cmd = [sys.executable, __file__, "--candidate", name, "--steps", str(args.steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            results[name] = {"error": out.stderr.strip().splitlines()[-3:]}
        else:
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)  # progress
    for part in results.get("profile", {}).values():
        if part.get("matmul_gflops"):
            part["matmul_fraction_of_bf16_peak"] = round(
                part["matmul_gflops"] / peak["bfloat16"], 3
            )
    print(
        json.dumps(
            {
                "benchmark": "llm_candidates",
                "model": "SmolLM2-135M-Instruct",
                "threads": 2,
                "cpu_bf16": cpu_has_bf16(),
                "torch": torch.__version__,
                "matmul_2048_gflops": {k: round(v, 1) for k, v in peak.items()},
                "candidates": results,
                "seconds": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
