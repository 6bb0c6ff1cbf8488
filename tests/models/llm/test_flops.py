"""The FLOP counts the LLM benchmarks divide by (`pairlm.models.llm.flops`), checked on a
tiny LLaMA whose every shape is known, and against the profiler's own count of the products."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


def _tiny(layers: int = 4):
    from tests.models.tiny_llm_lora import tiny_llama

    return tiny_llama(layers)


def test_counts_by_layer_and_the_adapter_on_the_top_layers() -> None:
    from peft import LoraConfig, get_peft_model

    from pairlm.models.llm.flops import decoder_counts, forward_flops, training_flops

    model = _tiny()
    # a layer: q 32·32, k 32·16, v 32·16, o 32·32, gate/up 32·64 each, down 64·32, 2 norms of 32
    per_layer = 32 * 32 * 2 + 32 * 16 * 2 + 32 * 64 * 3 + 2 * 32
    for p in model.parameters():
        p.requires_grad_(False)
    plain = decoder_counts(model)
    assert plain.base == [per_layer] * 4 and plain.adapter == [0] * 4 and plain.other == 32
    assert plain.lowest_trained is None
    assert training_flops(plain, 10, 100, 10) == forward_flops(plain, 10, 100, 10)

    lcfg = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], layers_to_transform=[2, 3])
    peft_model = get_peft_model(model, lcfg)
    c = decoder_counts(peft_model)
    lora = 2 * (32 + 32) + 2 * (32 + 16)  # q: A 2·32, B 32·2; v: A 2·32, B 16·2
    assert c.adapter == [0, 0, lora, lora] and c.base == [per_layer] * 4
    assert c.lowest_trained == 2 and c.non_embedding == 4 * per_layer + 32
    tokens, rows, positions = 50, 3, 8
    fwd = 2 * (4 * per_layer + 32 + 2 * lora) * tokens + 2 * 32 * rows * positions
    assert forward_flops(c, tokens, rows, positions) == fwd
    reached = 2 * per_layer + 32  # the backward stops at layer 2
    bwd = 2 * (reached + 2 * lora) * tokens + 2 * (2 * lora) * tokens + 2 * 32 * rows * positions
    assert training_flops(c, tokens, rows, positions) == fwd + bwd


def test_the_forward_count_matches_the_products_the_model_runs() -> None:
    """The profiler's FLOPs of the linear layers of a forward pass equal 2·N·T (less the
    norms' parameters, which are no product) plus the head."""
    from pairlm.models.llm.flops import decoder_counts, forward_flops

    model = _tiny(2).eval()
    ids = torch.randint(0, 100, (3, 7))
    with torch.no_grad(), torch.profiler.profile(with_flops=True) as prof:
        model(input_ids=ids, logits_to_keep=1)
    measured = sum(e.flops for e in prof.key_averages() if e.key in ("aten::mm", "aten::addmm"))
    c = decoder_counts(model)
    norms = 2 * 32 * 2 + 32
    assert measured == forward_flops(c, 21, 100, 3) - 2 * norms * 21


def test_a_4bit_weight_counts_the_elements_it_stands_for() -> None:
    """bitsandbytes packs two 4-bit values a byte; the count follows the quantization state's
    shape, not the packed storage."""
    from types import SimpleNamespace

    from pairlm.models.llm.flops import _logical_numel

    packed = torch.nn.Parameter(torch.zeros(16, 1, dtype=torch.uint8), requires_grad=False)
    packed.quant_state = SimpleNamespace(shape=torch.Size([4, 8]))  # type: ignore[attr-defined]
    assert _logical_numel(packed) == 32
    assert _logical_numel(torch.nn.Parameter(torch.zeros(3, 5))) == 15
