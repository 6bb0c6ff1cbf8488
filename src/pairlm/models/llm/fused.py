"""Fused LoRA projections for peft's `lora.Linear`: y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with the
adapter branch accumulated into the base output by one `addmm_`, in two precisions.

peft keeps adapter weights in float32 on a bf16 base (`autocast_adapter_dtype`), and each
adapted projection casts its input to float32, runs two float32 matmuls, multiplies the
(M×N) float32 branch output by s, adds it to the bf16 base output (a float32 sum) and casts
the sum back: besides the matmuls, four memory-bound passes over M×N values. Profiled on
SmolLM2-135M adapter scoring (all-linear r 16 on the top 15 layers): casts 10%, elementwise
mul 9% and add 9% of the time, beside 60% in matmuls.

- float32 branch (the default; `low_precision=False`): the base output is cast to float32
  once and `addmm_` adds s·u·Bᵀ (u = x·Aᵀ in float32) into it, then one cast back: the same
  roundings as peft (the base output rounded to bf16, the float32 sum rounded once), so the
  scores equal peft's (tests bound the difference by 1e-5 in P), with two fewer passes.
- bf16 branch (`low_precision=True`, the config key `bf16_adapters`): A and B are cast to the
  compute dtype (r×K and N×r: tiny), u = x·Aᵀ in bf16 and `y.addmm_(u, Bᵀ, alpha=s)` with
  float32 accumulation, no float32 M×N tensor at all. Gradients (`_LoRALinear.backward`), for
  g = ∂L/∂y and v = g·B: ∂L/∂x = g·W + s·v·A (one matmul and one `addmm_`), ∂L/∂A = s·vᵀ·x,
  ∂L/∂B = s·gᵀ·u, returned in the adapter's own dtype (float32 master weights). This is what
  bf16 autocast computes, an approximation: on a trained SmolLM2 adapter its scores moved by
  up to 0.013 in P (mean 0.002) from peft's.

On a float32 base the two are the same computation.

`fuse_lora(model, low_precision=...)` swaps in the fused forward on every eligible layer and
returns their count; a layer falls back to peft's own forward whenever the fused one would
not be the same computation (adapters disabled or merged, several adapters, per-row adapter
names, DoRA or other variants, a bias on B, active dropout, a quantized base).
"""

from __future__ import annotations

import types
from typing import Any

import torch
from torch import nn


def _project(
    x2: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    a: torch.Tensor,
    b: torch.Tensor,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x·Wᵀ + bias + s·u·Bᵀ, u = x·Aᵀ) for 2-D x, all in one dtype: one small matmul, the base
    product, and the branch added into it by `addmm_`."""
    u = x2 @ a.t()
    y = nn.functional.linear(x2, weight, bias)
    y.addmm_(u, b.t(), alpha=scaling)
    return y, u


class _LoRALinear(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        a: torch.Tensor,
        b: torch.Tensor,
        scaling: float,
    ) -> torch.Tensor:
        x2 = x.reshape(-1, x.shape[-1])
        a_c, b_c = a.to(x.dtype), b.to(x.dtype)
        y, u = _project(x2, weight, bias, a_c, b_c, scaling)
        ctx.save_for_backward(x2, weight, a_c, b_c, u)
        ctx.scaling = scaling
        ctx.dtypes = (a.dtype, b.dtype)
        return y.view(*x.shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x2, weight, a_c, b_c, u = ctx.saved_tensors
        s = ctx.scaling
        g = grads[0]
        g2 = g.reshape(-1, g.shape[-1])
        v = g2 @ b_c
        grad_x = None
        if ctx.needs_input_grad[0]:
            gx = g2 @ weight
            gx.addmm_(v, a_c, alpha=s)
            grad_x = gx.view(*g.shape[:-1], gx.shape[-1])
        grad_a = grad_b = None
        if ctx.needs_input_grad[3]:
            grad_a = (v.t() @ x2).to(ctx.dtypes[0]).mul_(s)
        if ctx.needs_input_grad[4]:
            grad_b = (g2.t() @ u).to(ctx.dtypes[1]).mul_(s)
        return grad_x, None, None, grad_a, grad_b, None


def lora_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    a: torch.Tensor,
    b: torch.Tensor,
    scaling: float,
    *,
    low_precision: bool = False,
) -> torch.Tensor:
    """x·Wᵀ (+ bias) + scaling·(x·Aᵀ)·Bᵀ, returned in x's dtype; differentiable in x, A and B.
    The adapter branch runs in A's dtype (float32: peft's roundings) or, with
    `low_precision`, in x's (see the module docstring)."""
    x2 = x.reshape(-1, x.shape[-1])
    if not low_precision and x.dtype != a.dtype:
        y32 = nn.functional.linear(x2, weight, bias).to(a.dtype)
        y32.addmm_(x2.to(a.dtype) @ a.t(), b.t(), alpha=scaling)
        return y32.to(x.dtype).view(*x.shape[:-1], y32.shape[-1])
    if torch.is_grad_enabled() and (x.requires_grad or a.requires_grad or b.requires_grad):
        out: torch.Tensor = _LoRALinear.apply(x, weight, bias, a, b, scaling)
        return out
    y, _ = _project(x2, weight, bias, a.to(x.dtype), b.to(x.dtype), scaling)
    return y.view(*x.shape[:-1], y.shape[-1])


def _fused_forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
    """peft `lora.Linear.forward`, fused where it computes the same thing (else peft's own)."""
    original = type(self).forward
    if args or kwargs or self.disable_adapters or self.merged or len(self.active_adapters) != 1:
        return original(self, x, *args, **kwargs)
    name = self.active_adapters[0]
    if name not in self.lora_A or name in getattr(self, "lora_variant", {}):
        return original(self, x, *args, **kwargs)
    dropout = self.lora_dropout[name]
    if self.training and isinstance(dropout, nn.Dropout) and dropout.p > 0:
        return original(self, x, *args, **kwargs)
    base = self.base_layer
    a, b = self.lora_A[name], self.lora_B[name]
    if x.dtype != base.weight.dtype or x.dtype not in (torch.float32, torch.bfloat16):
        return original(self, x, *args, **kwargs)
    return lora_linear(
        x,
        base.weight,
        base.bias,
        a.weight,
        b.weight,
        float(self.scaling[name]),
        low_precision=self._pairlm_low_precision,
    )


def _eligible(module: nn.Module) -> bool:
    from peft.tuners.lora.layer import Linear as LoRALinear

    if type(module) is not LoRALinear:  # subclasses: bnb 4/8-bit, other backends
        return False
    base = module.base_layer  # type: ignore[union-attr]
    if type(base) is not nn.Linear:
        return False
    for b in module.lora_B.values():  # type: ignore[union-attr]
        if getattr(b, "bias", None) is not None:
            return False
    return not any(getattr(module, "use_dora", {}).values())  # type: ignore[union-attr]


def fuse_lora(model: nn.Module, *, low_precision: bool = False) -> int:
    """Route every eligible peft `lora.Linear` of `model` through the fused projection, with
    the adapter branch in float32 (peft's numerics) or, with `low_precision`, in the base's
    dtype. Returns the number of layers fused; calling it again only changes the precision."""
    n = 0
    for module in model.modules():
        if not _eligible(module):
            continue
        module._pairlm_low_precision = low_precision  # type: ignore[assignment]
        if "forward" not in vars(module):
            module.forward = types.MethodType(_fused_forward, module)  # type: ignore[method-assign]
        n += 1
    return n


def unfuse_lora(model: nn.Module) -> int:
    """Undo `fuse_lora`: every layer back on peft's own forward (benchmarks measure both).
    Returns the number of layers restored."""
    n = 0
    for module in model.modules():
        if "forward" in vars(module) and hasattr(module, "_pairlm_low_precision"):
            del module.forward
            n += 1
    return n
