"""Contract-suite factory for `llm-lora`, and the tiny models the LoRA tests share.

`make_tiny_llama` (the prompting tests' 2-layer LLaMA with a word-level tokenizer) is reused;
`make_tiny_llama_4bit` widens it (hidden 64, head_dim 16) so that bitsandbytes' 4-bit CPU
kernels accept every layer (their CPU repacking needs output dims divisible by 32 and input
dims by the 64-wide quantization block).
"""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

from pairlm.models.llm.lora import LLMLoRAClassifier
from tests.models.tiny_llm_zeroshot import make_tiny_llama

TINY_TRAIN = {
    "dtype": "float32",
    "device": "cpu",
    "lr": 5e-3,
    "r": 4,
    "lora_alpha": 8,
    "batch_size": 8,
    "epochs": 2,
    "eval_batch_size": 16,
    "max_length": 64,
    "progress": False,
}


def tiny_llama(layers: int = 4, seed: int = 0) -> Any:
    """An in-memory LLaMA small enough to know every shape: hidden 32, MLP 64, 4 heads of 8
    (2 key/value heads), vocabulary 100, tied embeddings."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


def make_tiny_llama_4bit(folder: str | pathlib.Path, seed: int = 0) -> pathlib.Path:
    """A tiny LLaMA (hidden 64, 4 heads of 16, MLP 128) that bitsandbytes can quantize on CPU,
    with the word-level tokenizer of `make_tiny_llama`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = pathlib.Path(folder)
    if (folder / "config.json").is_file():
        return folder
    small = make_tiny_llama(folder.parent / f"{folder.name}-base", seed=seed)
    config = LlamaConfig.from_pretrained(small)
    config.hidden_size, config.intermediate_size, config.head_dim = 64, 128, 16
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.2)
    model.save_pretrained(folder)
    for f in small.iterdir():
        if f.name not in ("config.json", "generation_config.json") and "safetensors" not in f.name:
            shutil.copy(f, folder / f.name)
    return folder


def make_tiny(tmp_path: pathlib.Path, **overrides: Any) -> LLMLoRAClassifier:
    """An unfitted LoRA classifier (generative head) on a tiny LLaMA folder in `tmp_path`."""
    folder = make_tiny_llama(pathlib.Path(tmp_path) / "tiny-llama")
    return LLMLoRAClassifier(backbone=str(folder), **{**TINY_TRAIN, **overrides})
