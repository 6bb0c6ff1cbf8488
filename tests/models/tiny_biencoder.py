"""Contract-suite factory: a bi-encoder on a tiny in-process BERT (2 layers, hidden 32).

`make_tiny_bert(folder)` writes a tiny randomly initialised BertModel with a word-level
tokenizer (made with `tokenizers`) as a Hugging Face folder; `make_tiny_sentence_encoder`
wraps it as a sentence-transformers folder (mean pooling). Both are deterministic.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

from pairlm.models.biencoder import BiEncoderClassifier

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = (
    "a an the of to in on for and or is are was be do does did how what why when where who "
    "which can could should would will i you my your it this that with from as at by best way "
    "learn learning get make good bad buy sell money online time day year people life love "
    "python java code programming language computer phone india indian world country city "
    "book books read write movie music song game play water food eat cook health weight lose "
    "gain job work career study student college university exam test question answer quora "
    "google apple android iphone car drive travel visit new old big small fast slow first last "
    "start stop improve english speak skills become rich happy mean meaning difference between "
    "vs better than most some any all one two three 2016 2017 ? , . ' ! - not no yes "
    # the words of tests.conftest.make_toy_pairs
    "tips python programming fast lose quickly diet invest stock market rice perfectly pot "
    "japan cheap budget fix laptop screen broken novel guitar chords beginner grow tomatoes "
    "garden summer train dog sit puppy"
).split()


def tiny_vocab(words: Sequence[str] = _WORDS) -> list[str]:
    return [*SPECIAL, *dict.fromkeys(w for w in words if w not in SPECIAL)]


def make_tiny_bert(
    folder: pathlib.Path,
    seed: int = 0,
    *,
    words: Sequence[str] = _WORDS,
    hidden: int = 32,
    layers: int = 2,
    add_special_tokens: bool = True,
) -> pathlib.Path:
    """Write a tiny BertModel (`layers` layers, width `hidden`) and a word-level tokenizer
    over `words` to `folder`; `add_special_tokens=False`: no [CLS]/[SEP] around texts."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tiny_vocab(words))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if add_special_tokens:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


def make_tiny_sentence_encoder(folder: pathlib.Path, **bert: Any) -> pathlib.Path:
    """A sentence-transformers folder (tiny BERT + mean pooling) at `folder`; `bert`: the
    keywords of `make_tiny_bert`."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    folder = pathlib.Path(folder)
    hf = make_tiny_bert(folder.parent / (folder.name + "-hf"), **bert)
    transformer = models.Transformer(str(hf), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(
        str(folder), create_model_card=False
    )
    return folder


def make_tiny(tmp_path: pathlib.Path) -> BiEncoderClassifier:
    """An unfitted bi-encoder (logistic-regression head) on a tiny sentence encoder."""
    folder = pathlib.Path(tmp_path) / "tiny-st"
    if not (folder / "modules.json").is_file():
        make_tiny_sentence_encoder(folder)
    return BiEncoderClassifier(
        encoder=str(folder), mode="head", head="logreg", share_cache=False, progress=False
    )
