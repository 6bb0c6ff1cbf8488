"""Attention over a shared, cached prompt prefix as one matrix product per key/value head.

n-shot prompts share a long prefix (the instruction and the demonstrations: about 400
tokens for 8 shots) and differ only in a short suffix (the pair: about 50). The plain cached
path hands every example of a batch its own view of the prefix's keys and values: the cache
concatenates them with the suffix's, copying B x P keys and values per layer per batch, and
the attention kernel then reads the same prefix B times, in small (T x P) tiles. On a
2-core CPU that attention was 40% of an 8-shot scoring pass while it is about 15% of its
FLOPs (profiled with SmolLM2-135M).

Here the prefix is kept once per layer, (1, KVH, P, d), and each layer's attention is split
in two parts whose softmaxes are merged exactly (the log-sum-exp merge of flash attention):

- prefix part: the queries of the whole batch, grouped by key/value head, against the
  prefix: one (B*G*T, d) x (d, P) product per key/value head, well shaped for the matrix
  units, with no copy of the prefix;
- suffix part: each example's queries against its own suffix keys, under the causal and
  padding mask (T x T, small).

The result equals softmax attention over the concatenation (prefix, suffix) up to float
rounding. Layers that attend through a sliding window shorter than prefix + suffix, or that
soft-cap their scores, are not supported: `supported` says so and the caller keeps the plain
path.

Use: `with prefix_attention(model, prefix_kv): model(...)`, where `prefix_kv` holds each
layer's (keys, values) of the prefix (rotary positions already applied, as a key/value cache
holds them) and the batch's position ids continue after the prefix. Outside the context the
registered implementation is plain SDPA.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

NAME = "pairlm_shared_prefix"
"""The attention implementation's registered name (transformers' `AttentionInterface`)."""


@dataclass
class _Prefix:
    """The prefix's per-layer keys and values, and the last batch's suffix mask: every layer
    of one forward pass gets the same mask tensor, so it is turned into the kernel's form
    once per batch, not once per layer."""

    kv: Sequence[tuple[torch.Tensor, torch.Tensor]]
    mask_of: tuple[Any, ...] | None = None
    masks: tuple[torch.Tensor, torch.Tensor] | None = None


_PREFIX: contextvars.ContextVar[_Prefix | None] = contextvars.ContextVar(
    "pairlm_shared_prefix", default=None
)
_registered = False
_FUSED_DEVICES = ("cpu",)
"""Devices whose fused flash-attention kernel returns the row log-sum-exps (torch's
`_scaled_dot_product_flash_attention_for_cpu`); others use plain products."""


def _attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    prefix = _PREFIX.get()
    if prefix is None:
        return sdpa_attention_forward(  # type: ignore[no-any-return]
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    pk, pv = prefix.kv[module.layer_idx]
    b, t, s = query.shape[0], query.shape[2], key.shape[2]
    # The mask object itself is part of the key (held, so its id cannot be reused meanwhile).
    of = (attention_mask, b, t, s, query.dtype, query.device)
    if prefix.masks is None or prefix.mask_of is None or not _same(prefix.mask_of, of):
        prefix.mask_of, prefix.masks = of, suffix_masks(attention_mask, b, t, s, query)
    out = shared_prefix_attention(
        query, key, value, attention_mask, pk, pv, scaling, masks=prefix.masks
    )
    return out, None


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[0] is b[0] and a[1:] == b[1:]


def suffix_masks(
    mask: torch.Tensor | None, b: int, t: int, s: int, query: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The suffix part's (B, 1, T, S) boolean mask (True = attend) and the same as an
    additive bias in the query's dtype, from transformers' mask over the batch's own keys.

    A query sees the whole prefix, so a suffix row with nothing to attend to (left padding)
    is still well defined; it is given its own position so the fused kernel's row is too."""
    allowed = _allowed(mask, b, t, s, query.device)
    own = torch.zeros(t, s, dtype=torch.bool, device=query.device)
    own[torch.arange(t), torch.arange(s - t, s)] = True
    allowed = allowed | own
    bias = torch.zeros(allowed.shape, dtype=query.dtype, device=query.device)
    return allowed, bias.masked_fill(~allowed, float("-inf"))


def shared_prefix_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    prefix_key: torch.Tensor,
    prefix_value: torch.Tensor,
    scaling: float | None = None,
    *,
    masks: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Softmax attention of `query` (B, H, T, d) over (prefix, own keys), as (B, T, H, d).

    `key`/`value` (B, KVH, S, d) are the batch's own keys (S ≥ T: a cache may hold earlier
    suffix tokens); `mask` is transformers' 4-D mask over them — boolean (True = attend) or
    additive — or None for plain causal attention; `prefix_key`/`prefix_value`
    (1, KVH, P, d) are shared by every example and every query may attend to all of them.

    On CPU both parts run in torch's fused flash-attention kernel, which also returns each
    row's log-sum-exp (what the merge needs); elsewhere in plain products (`_parts_matmul`).
    `masks`: `suffix_masks` of `mask` when the caller already has them.
    """
    b, h, t, d = query.shape
    kvh, s = key.shape[1], key.shape[2]
    g = h // kvh
    scale = d**-0.5 if scaling is None else scaling
    allowed, bias = masks if masks is not None else suffix_masks(mask, b, t, s, query)
    q = query.reshape(b, kvh, g, t, d).transpose(0, 1).reshape(1, kvh, b * g * t, d)
    if query.device.type in _FUSED_DEVICES:
        flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        op, lp = flash(q, prefix_key, prefix_value, 0.0, False, scale=scale)
        ks, vs = key.repeat_interleave(g, 1), value.repeat_interleave(g, 1)
        os_, ls = flash(query.contiguous(), ks, vs, 0.0, False, attn_mask=bias, scale=scale)
    else:
        op, lp, os_, ls = _parts_matmul(
            query, key, value, allowed, q, prefix_key, prefix_value, scale
        )
    # Merge the two softmaxes exactly (log-sum-exp): prefix rows back to (B, H, T).
    op = op.reshape(kvh, b, g * t, d).transpose(0, 1).reshape(b, h, t, d)
    lp = lp.reshape(kvh, b, g * t).transpose(0, 1).reshape(b, h, t)
    lse = torch.logaddexp(lp, ls.float())
    wp = torch.exp(lp - lse).unsqueeze(-1)
    ws = torch.exp(ls.float() - lse).unsqueeze(-1)
    out = op.float() * wp + os_.float() * ws
    return out.transpose(1, 2).to(query.dtype)


def _allowed(
    mask: torch.Tensor | None, b: int, t: int, s: int, device: torch.device
) -> torch.Tensor:
    """The (B, 1, T, S) boolean mask (True = attend) of a transformers mask over own keys."""
    if mask is None:
        causal = torch.ones(t, s, dtype=torch.bool, device=device).tril(s - t)
        return causal.expand(b, 1, t, s)
    mask = mask[:, :, -t:, -s:]
    if mask.dtype != torch.bool:
        mask = mask > torch.finfo(mask.dtype).min / 2
    return mask.expand(b, 1, t, s)


def _parts_matmul(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    allowed: torch.Tensor,
    q: torch.Tensor,
    prefix_key: torch.Tensor,
    prefix_value: torch.Tensor,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both parts' outputs and row log-sum-exps by plain products (float32 softmax)."""
    g = query.shape[1] // key.shape[1]
    sp = torch.matmul(q, prefix_key.transpose(-1, -2)).float() * scale
    lp = torch.logsumexp(sp, -1)
    op = torch.matmul(torch.softmax(sp, -1).to(query.dtype), prefix_value)
    ks, vs = key.repeat_interleave(g, 1), value.repeat_interleave(g, 1)
    ss = torch.matmul(query, ks.transpose(-1, -2)).float() * scale
    ss = ss.masked_fill(~allowed, float("-inf"))
    ls = torch.logsumexp(ss, -1)
    os_ = torch.matmul(torch.softmax(ss, -1).to(query.dtype), vs)
    return op, lp, os_, ls


def register() -> None:
    """Register the implementation (and SDPA's mask builder for it) with transformers."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    _registered = True


def _config(model: Any) -> Any:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.config


def supported(model: Any, prefix_len: int, suffix_len: int) -> bool:
    """Whether `model`'s attention can take the shared-prefix split for prompts of
    `prefix_len` + `suffix_len` tokens (no soft-capping, no window shorter than that, a
    `layer_idx` on each attention module)."""
    cfg = _config(model)
    cfg = getattr(cfg, "text_config", None) or cfg
    if getattr(cfg, "attn_logit_softcapping", None):
        return False
    window = getattr(cfg, "sliding_window", None)
    if window is not None and window < prefix_len + suffix_len:
        return False
    return all(
        hasattr(m, "layer_idx") for name, m in model.named_modules() if name.endswith("self_attn")
    )


@contextlib.contextmanager
def prefix_attention(
    model: Any, prefix_kv: Sequence[tuple[torch.Tensor, torch.Tensor]]
) -> Iterator[None]:
    """Within the block, `model`'s attention layers also attend to `prefix_kv` (per layer:
    keys, values of shape (1, KVH, P, d)) through `shared_prefix_attention`."""
    register()
    cfg = _config(model)
    before = cfg._attn_implementation
    token = _PREFIX.set(_Prefix(prefix_kv))
    cfg._attn_implementation = NAME
    try:
        yield
    finally:
        cfg._attn_implementation = before
        _PREFIX.reset(token)
