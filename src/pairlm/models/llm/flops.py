"""Floating-point work of the LLM paths, and the machine's matrix peak to set it against.

Benchmarks state each LLM path's throughput as a fraction of the bf16 matmul peak measured in
the same run (`matmul_peak`). The work counted is the matrix products a path performs on its
real (non-pad) tokens; elementwise work, softmax and attention scores (4·T²·d a layer, under
2% at QQP's ~45 tokens) are left out: the fraction says how much of the time the matrix
units did the work the path needs, and the rest (elementwise kernels, small products, Python
and dispatch overhead, padding) is what keeps it below 1.

For a decoder with non-embedding parameters N on T real tokens:

- forward: 2·N·T, plus 2·H·R·P for the LM head (R vocabulary rows on P positions: the whole
  vocabulary on every position for a plain LM loss, the answer tokens' rows at the last
  position for pairlm's paths);
- LoRA adds 2·L·T forward for its L adapter parameters (on the layers it is applied to);
- backward: the activation gradients of every layer the backward reaches (from the lowest
  layer holding a trainable parameter to the top), 2·(N_reached + L)·T, and the adapter's
  weight gradients, 2·L·T; the frozen weights get no gradient (nothing counted); the head's
  input gradient, 2·H·R·P.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DecoderCounts:
    """Parameter counts of a (peft-wrapped) causal LM, by decoder layer."""

    base: list[int]
    """Frozen base parameters of each decoder layer (its linear weights, norms)."""
    adapter: list[int]
    """Trainable (adapter) parameters of each decoder layer."""
    other: int
    """Non-embedding parameters outside the layers (the final norm)."""
    hidden: int
    """Hidden size H (the LM head's input)."""

    @property
    def non_embedding(self) -> int:
        return sum(self.base) + self.other

    @property
    def lowest_trained(self) -> int | None:
        """Index of the lowest layer with a trainable parameter (None: nothing trained)."""
        return next((i for i, n in enumerate(self.adapter) if n), None)


def decoder_counts(model: Any) -> DecoderCounts:
    """Count the parameters of `model` (a causal LM, possibly wrapped by peft) by layer."""
    base_model = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base_model.get_decoder()
    layers = list(decoder.layers)
    base, adapter = [], []
    seen: set[int] = set()
    for layer in layers:
        b = a = 0
        for p in layer.parameters():
            seen.add(id(p))
            if p.requires_grad:
                a += p.numel()
            else:
                b += _logical_numel(p)
        base.append(b)
        adapter.append(a)
    skip = {id(p) for p in base_model.get_input_embeddings().parameters()}
    head = base_model.get_output_embeddings()
    if head is not None:
        skip |= {id(p) for p in head.parameters()}
    other = sum(p.numel() for p in decoder.parameters() if id(p) not in seen and id(p) not in skip)
    return DecoderCounts(base, adapter, other, int(base_model.config.hidden_size))


def _logical_numel(p: Any) -> int:
    """Elements of the weight a parameter stands for: a 4-bit bitsandbytes weight packs two in
    a byte, and its quantization state keeps the real shape."""
    shape = getattr(getattr(p, "quant_state", None), "shape", None)
    if shape is not None:
        n = 1
        for d in shape:
            n *= int(d)
        return n
    return int(p.numel())


def forward_flops(counts: DecoderCounts, tokens: int, head_rows: int, positions: int) -> float:
    """Matrix FLOPs of one forward pass over `tokens` real tokens, the LM head computing
    `head_rows` rows on `positions` positions."""
    params = counts.non_embedding + sum(counts.adapter)
    return 2.0 * params * tokens + 2.0 * counts.hidden * head_rows * positions


def training_flops(counts: DecoderCounts, tokens: int, head_rows: int, positions: int) -> float:
    """Matrix FLOPs of one training step (forward and backward) over `tokens` real tokens
    (see the module docstring for what is counted)."""
    fwd = forward_flops(counts, tokens, head_rows, positions)
    low = counts.lowest_trained
    if low is None:
        return fwd
    reached = sum(counts.base[low:]) + counts.other
    adapter = sum(counts.adapter)
    backward = 2.0 * (reached + adapter) * tokens + 2.0 * adapter * tokens
    return fwd + backward + 2.0 * counts.hidden * head_rows * positions


def matmul_peak(dtype: Any, n: int = 2048, reps: int = 10, rounds: int = 3) -> float:
    """GFLOP/s of an n×n by n×n product in `dtype` on this process's torch threads, the best
    of `rounds` timings of `reps` products (a busy moment lowers one round, not the peak):
    the matrix peak the LLM paths are measured against."""
    import torch

    x = torch.randn(n, n).to(dtype)
    w = torch.randn(n, n).to(dtype)
    for _ in range(2):
        x @ w
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            x @ w
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * reps / best / 1e9
