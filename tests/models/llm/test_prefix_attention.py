"""Shared-prefix attention: the split (prefix once per layer, suffix masked) equals softmax
attention over the concatenation, and scoring through it equals the plain cached path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pairlm.models.llm import prefix_attention as pa
from pairlm.models.llm.backbone import load_backbone
from pairlm.models.llm.prompts import TEMPLATES, Demo, Verbaliser
from pairlm.models.llm.scoring import PromptScorer
from tests.models.tiny_llm_zeroshot import make_tiny_llama


def _reference(q, k, v, allowed, pk, pv, scale):
    """Plain attention over (prefix, own keys); `allowed` (B, T, S) masks only the own keys."""
    b, h, t, _ = q.shape
    g = h // k.shape[1]
    keys = torch.cat([pk.expand(b, -1, -1, -1), k], 2).repeat_interleave(g, 1)
    vals = torch.cat([pv.expand(b, -1, -1, -1), v], 2).repeat_interleave(g, 1)
    full = torch.cat([torch.ones(b, t, pk.shape[2], dtype=torch.bool), allowed], -1)
    s = (q @ keys.transpose(-1, -2)) * scale
    s = s.masked_fill(~full[:, None], float("-inf"))
    return (s.softmax(-1) @ vals).transpose(1, 2)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", ["none", "bool", "additive"])
def test_split_equals_attention_over_the_concatenation(kind: str, fused: bool, monkeypatch) -> None:
    if not fused:  # the plain-product path other devices take
        monkeypatch.setattr(pa, "_FUSED_DEVICES", ())
    g = torch.Generator().manual_seed(0)
    b, h, kvh, t, d, p = 3, 4, 2, 5, 8, 7
    q = torch.randn(b, h, t, d, generator=g)
    k = torch.randn(b, kvh, t, d, generator=g)
    v = torch.randn(b, kvh, t, d, generator=g)
    pk = torch.randn(1, kvh, p, d, generator=g)
    pv = torch.randn(1, kvh, p, d, generator=g)
    allowed = torch.ones(t, t, dtype=torch.bool).tril().expand(b, t, t).clone()
    if kind != "none":
        allowed[1, :, :2] = False  # example 1 is left-padded by two tokens
    mask = None
    if kind == "bool":
        mask = allowed[:, None]
    elif kind == "additive":
        mask = torch.zeros(b, 1, t, t).masked_fill(
            ~allowed[:, None], torch.finfo(torch.float32).min
        )
    got = pa.shared_prefix_attention(q, k, v, mask, pk, pv, scaling=0.3)
    want = _reference(q, k, v, allowed, pk, pv, 0.3)
    assert got.shape == (b, t, h, d)
    # Rows that see none of their own keys (left padding) are never read; they stay finite.
    seen = allowed.any(-1)  # (B, T)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got[seen], want[seen], atol=1e-5, rtol=1e-5)
    assert (~seen).sum() == (2 if kind != "none" else 0)


PAIRS = [
    ("how do i learn python fast?", "what is the best way to learn python?"),
    ("why?", "how?"),
    ("how can i lose weight quickly on a diet?", "tips to lose weight?"),
    ("what is the best way to invest money in the stock market?", "how do i invest?"),
]
DEMOS = [
    Demo("how do i train my dog to sit?", "tips to train a puppy to sit?", 1),
    Demo("how do i grow tomatoes?", "best cheap laptop?", 0),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    folder = make_tiny_llama(tmp_path_factory.mktemp("tiny") / "m")
    return load_backbone(str(folder), dtype="float32", device="cpu", shared=False)


@pytest.mark.parametrize("words", [("no", "yes"), ("no way", "yes please")])
def test_scoring_through_the_split_equals_the_plain_cached_path(tiny, monkeypatch, words) -> None:
    tok = tiny.tokenizer
    t = TEMPLATES["harness"]
    v = Verbaliser(((f" {words[0]}",), (f" {words[1]}",)))
    ans = v.tokenize(tok, t.answer_context(tok))
    parts = [t.render(a, b, DEMOS, verbaliser=v) for a, b in PAIRS]
    calls = []
    real = pa.shared_prefix_attention
    monkeypatch.setattr(
        pa, "shared_prefix_attention", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    masks = []
    real_masks = pa.suffix_masks
    monkeypatch.setattr(pa, "suffix_masks", lambda *a: masks.append(1) or real_masks(*a))
    before = tiny.model.config._attn_implementation
    split = PromptScorer(tiny.model, tok, ans, batch_size=3).score(parts)
    assert calls, "the shared-prefix path did not run"
    assert tiny.model.config._attn_implementation == before  # restored
    # the suffix mask is built at most once per forward pass, not once per layer
    assert 0 < len(masks) <= len(calls) // tiny.model.config.num_hidden_layers
    n = len(calls)
    plain = PromptScorer(tiny.model, tok, ans, batch_size=3, shared_prefix_attention=False).score(
        parts
    )
    assert len(calls) == n  # the plain path does not use it
    np.testing.assert_allclose(split, plain, atol=1e-5)
    assert np.ptp(split[:, 1] - split[:, 0]) > 1e-3  # the scores depend on the pair


def test_unsupported_models_keep_the_plain_path(tiny, monkeypatch) -> None:
    tok = tiny.tokenizer
    t = TEMPLATES["harness"]
    v = Verbaliser.from_words("no", "yes")
    ans = v.tokenize(tok, t.answer_context(tok))
    parts = [t.render(a, b, DEMOS, verbaliser=v) for a, b in PAIRS[:2]]
    monkeypatch.setattr(tiny.model.config, "sliding_window", 4, raising=False)
    assert not pa.supported(tiny.model, 10, 10)
    calls = []
    monkeypatch.setattr(pa, "shared_prefix_attention", lambda *a, **k: calls.append(1))
    PromptScorer(tiny.model, tok, ans, batch_size=2).score(parts)
    assert not calls
