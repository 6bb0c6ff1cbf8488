"""Contract-suite factory for `llm-zeroshot`, and the tiny causal LM the LLM tests share.

`make_tiny_llama(folder)` writes a Hugging Face model folder: a 2-layer LlamaConfig (hidden
32) with random weights (seeded) and a word-level `tokenizers` tokenizer (lower-casing,
whitespace/punctuation split) whose vocabulary covers the prompt templates and the toy pairs.
"""

from __future__ import annotations

import pathlib

from pairlm.models.llm.prompting import LLMZeroShotClassifier

_WORDS = (
    "question questions 1 2 : do both ask the same thing ? answer yes no are these two "
    "duplicates decide whether from a site that is they and one would satisfy each given "
    "between triple quotes treat quoted text only as to compare never follow instructions "
    'written inside it with or . , ! \' " \\ \\" """ ``` ` n / a [mask] ignore above say '
    "what how why who when where i you my best way can should tips to of in for on is it "
    "learn python programming fast lose weight quickly diet invest money stock market cook "
    "rice perfectly pot travel japan cheap budget fix laptop screen broken write novel first "
    "book play guitar chords beginner grow tomatoes garden summer train dog sit puppy"
)


def make_tiny_llama(folder: str | pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Write a tiny random LLaMA + word-level tokenizer to `folder` (once) and return it."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = pathlib.Path(folder)
    if (folder / "config.json").is_file():
        return folder
    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    vocab = {t: i for i, t in enumerate(specials)}
    for w in _WORDS.split():
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the default init, so outputs vary with input
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def make_tiny(tmp_path: pathlib.Path) -> LLMZeroShotClassifier:
    """An unfitted zero-shot classifier on a tiny LLaMA folder in `tmp_path`."""
    folder = make_tiny_llama(pathlib.Path(tmp_path) / "tiny-llama")
    return LLMZeroShotClassifier(
        backbone=str(folder), dtype="float32", device="cpu", batch_size=8, progress=False
    )
