"""The fused LoRA projection (`pairlm.models.llm.fused`) against peft's own `lora.Linear`, on a
tiny LLaMA with random (non-zero) adapters: outputs and gradients, both precisions, and every
case where it must step aside for peft's forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from pairlm.models.llm.fused import fuse_lora, lora_linear, unfuse_lora  # noqa: E402


def _model(dtype=None, *, dropout: float = 0.0, layers: int = 3):
    from peft import LoraConfig, get_peft_model

    from tests.models.tiny_llm_lora import tiny_llama

    base = tiny_llama(layers)
    if dtype is not None:
        base = base.to(dtype)
    lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear")
    model = get_peft_model(base, lcfg)
    with torch.no_grad():  # peft starts B at zero: give the branch something to add
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.2)
    return model


def _ids() -> torch.Tensor:
    return torch.randint(0, 64, (3, 7), generator=torch.Generator().manual_seed(1))


def _logits_and_grads(model, ids) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    out = model(input_ids=ids).logits
    out.float().pow(2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads


def test_float32_model_fused_equals_peft_in_outputs_and_gradients() -> None:
    model, ids = _model(), _ids()
    ref, ref_grads = _logits_and_grads(model, ids)
    assert fuse_lora(model) == 3 * 7  # q k v o gate up down in each layer
    got, grads = _logits_and_grads(model, ids)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert grads.keys() == ref_grads.keys() and len(grads) == 2 * 3 * 7
    for n in grads:
        torch.testing.assert_close(grads[n], ref_grads[n], rtol=1e-4, atol=1e-6)
    with torch.inference_mode():
        torch.testing.assert_close(model(input_ids=ids).logits, ref, rtol=1e-5, atol=1e-5)
    assert fuse_lora(model, low_precision=True) == 21 and unfuse_lora(model) == 21
    assert unfuse_lora(model) == 0 and not any("forward" in vars(m) for m in model.modules())


def test_bf16_base_float32_branch_keeps_peft_numerics() -> None:
    model, ids = _model(torch.bfloat16), _ids()
    for n, p in model.named_parameters():  # peft keeps adapters in float32 on a bf16 base
        assert p.dtype == (torch.float32 if "lora_" in n else torch.bfloat16), n
    with torch.inference_mode():
        ref = model(input_ids=ids).logits.float()
        fuse_lora(model)
        got = model(input_ids=ids).logits.float()
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)


def test_bf16_branch_is_close_and_its_gradients_match_autograd() -> None:
    model, ids = _model(torch.bfloat16), _ids()
    ref, ref_grads = _logits_and_grads(model, ids)
    fuse_lora(model, low_precision=True)
    got, grads = _logits_and_grads(model, ids)
    scale = ref.float().abs().max()
    assert (got.float() - ref.float()).abs().max() <= 0.05 * scale
    for n, g in grads.items():
        assert g.dtype == torch.float32  # master weights keep their dtype
        cos = torch.nn.functional.cosine_similarity(g.flatten(), ref_grads[n].flatten(), dim=0)
        assert cos > 0.98, n


def test_backward_formulas_against_autograd_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(4, 6, dtype=torch.float64, generator=g)
    bias = torch.randn(4, dtype=torch.float64, generator=g)
    a = torch.randn(3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, a, b: lora_linear(x, w, bias, a, b, 1.5, low_precision=True), (x, a, b)
    )
    ref = torch.nn.functional.linear(x, w, bias) + 1.5 * (x @ a.t()) @ b.t()
    torch.testing.assert_close(lora_linear(x, w, bias, a, b, 1.5), ref)


def test_steps_aside_where_it_is_not_the_same_computation() -> None:
    ids = _ids()
    model = _model(dropout=0.5)
    fuse_lora(model, low_precision=True)
    model.train()
    torch.manual_seed(3)
    a = model(input_ids=ids).logits
    torch.manual_seed(3)
    b = model(input_ids=ids).logits
    torch.testing.assert_close(a, b)  # same dropout masks: peft's forward ran
    torch.manual_seed(4)
    assert not torch.allclose(model(input_ids=ids).logits, a)  # and dropout is active
    model.eval()
    with torch.inference_mode():
        fused = model(input_ids=ids).logits
        with model.disable_adapter():
            plain = model(input_ids=ids).logits
        assert not torch.allclose(fused, plain)
        model.merge_adapter()
        torch.testing.assert_close(model(input_ids=ids).logits, fused, rtol=1e-4, atol=1e-4)
        model.unmerge_adapter()
        torch.testing.assert_close(model(input_ids=ids).logits, fused)


def test_quantized_and_biased_layers_are_left_to_peft() -> None:
    from peft import LoraConfig, get_peft_model

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(8, 8)

        def forward(self, x):
            return self.proj(x)

    model = get_peft_model(Net(), LoraConfig(r=2, target_modules=["proj"], lora_bias=True))
    assert fuse_lora(model) == 0
