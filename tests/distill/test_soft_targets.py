"""Soft targets (a teacher's P(match) on silver pairs) reach each student family's loss;
without a `target` every family trains as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pairlm.data.augment import with_augmentation
from pairlm.data.pairs import PairDataset, concat
from pairlm.models.base import soft_target_rows, swap_sides, training_fingerprint
from pairlm.models.lexical import LexicalConfig
from tests.conftest import make_toy_pairs


def _soft(ds: PairDataset, seed: int = 0) -> PairDataset:
    """`ds` with soft targets: the label pulled towards 0.5 by a random amount."""
    rng = np.random.default_rng(seed)
    t = np.where(ds.label == 1, rng.uniform(0.55, 0.95, len(ds)), rng.uniform(0.05, 0.45, len(ds)))
    return dataclasses.replace(ds, target=t)


def test_the_target_column_travels_with_the_pairs() -> None:
    ds = _soft(make_toy_pairs(20))
    np.testing.assert_array_equal(ds.subset([3, 1]).target, ds.target[[3, 1]])
    np.testing.assert_array_equal(swap_sides(ds).target, ds.target)
    both = concat([make_toy_pairs(5, seed=3), ds])
    np.testing.assert_array_equal(both.target[:5], make_toy_pairs(5, seed=3).label)
    np.testing.assert_array_equal(both.target[5:], ds.target)
    assert concat([make_toy_pairs(5), make_toy_pairs(5)]).target is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dataclasses.replace(ds, target=ds.target + 1)
    aug, _ = with_augmentation(ds, ["order"], 1.0, seed=0)
    order = aug.subset(np.arange(len(ds), len(aug)))
    lookup = {(a, b): t for a, b, t in zip(ds.text_a, ds.text_b, ds.target)}
    assert all(lookup[(b, a)] == t for a, b, t in zip(order.text_a, order.text_b, order.target))


def test_training_fingerprints_change_with_targets_only_when_there_are_some() -> None:
    cfg = LexicalConfig()
    tr, va = make_toy_pairs(20), make_toy_pairs(10, seed=1)
    fp = training_fingerprint(cfg, tr, va)
    assert training_fingerprint(cfg, dataclasses.replace(tr, target=None), va) == fp
    assert training_fingerprint(cfg, _soft(tr), va) != fp


def test_soft_target_rows_is_the_soft_cross_entropy() -> None:
    t = np.array([1.0, 0.0, 0.3])
    idx, y, w = soft_target_rows(t)
    assert sorted(zip(idx.tolist(), y.tolist(), w.tolist())) == [
        (0, 1, 1.0),
        (1, 0, 1.0),
        (2, 0, pytest.approx(0.7)),
        (2, 1, pytest.approx(0.3)),
    ]


def _capture(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    real = getattr(owner, name)

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append({"args": args, "kw": kw})
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, spy)
    return seen


def test_lexical_fits_weighted_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from tests.models.tiny_lexical import make_tiny

    tr = _soft(make_toy_pairs(40))
    seen = _capture(monkeypatch, LogisticRegression, "fit")
    make_tiny(tmp_path).fit(tr, make_toy_pairs(20, seed=1))
    _, y, w = soft_target_rows(tr.target)
    np.testing.assert_array_equal(seen[-1]["args"][2], y)
    np.testing.assert_allclose(seen[-1]["kw"]["sample_weight"], w)
    make_tiny(tmp_path).fit(make_toy_pairs(40), make_toy_pairs(20, seed=1))
    assert "sample_weight" not in seen[-1]["kw"]  # hard labels: as before


def test_crossencoder_bce_gets_the_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pairlm.models.crossencoder import CrossEncoderClassifier
    from tests.models.tiny_crossencoder import make_tiny

    tr = _soft(make_toy_pairs(24))
    seen = _capture(monkeypatch, CrossEncoderClassifier, "_loss")
    model = make_tiny(tmp_path)
    model.config = model.config.replace(epochs=1, batch_size=24)
    model.fit(tr, make_toy_pairs(12, seed=1))
    y = seen[0]["args"][2]
    assert y.is_floating_point()
    assert sorted(np.round(y.numpy(), 6)) == sorted(np.round(tr.target, 6))
    two = make_tiny(tmp_path)
    two.config = two.config.replace(epochs=1, batch_size=24, num_labels=2)
    two.fit(tr, make_toy_pairs(12, seed=1))  # cross-entropy on (1 - p, p)
    assert seen[-1]["args"][2].is_floating_point()


def test_biencoder_heads_get_the_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pairlm.models.biencoder import BiEncoderClassifier
    from tests.models.tiny_biencoder import make_tiny

    tr, va = _soft(make_toy_pairs(30)), make_toy_pairs(12, seed=1)
    seen = _capture(monkeypatch, BiEncoderClassifier, "_fit_logreg")
    make_tiny(tmp_path).fit(tr, va)
    np.testing.assert_array_equal(seen[-1]["args"][4], tr.target)
    seen = _capture(monkeypatch, BiEncoderClassifier, "_fit_mlp")
    mlp = make_tiny(tmp_path)
    mlp.config = mlp.config.replace(head="mlp", mlp_epochs=2)
    mlp.fit(tr, va)
    np.testing.assert_array_equal(seen[-1]["args"][3], tr.target)


@pytest.mark.parametrize("loss", ["contrastive", "mnrl"])
def test_biencoder_finetuning_learns_from_the_targets(tmp_path: Path, loss: str) -> None:
    from tests.models.tiny_biencoder import make_tiny

    tr, va = make_toy_pairs(24), make_toy_pairs(12, seed=1)

    def encoder_after(train: PairDataset) -> np.ndarray:
        m = make_tiny(tmp_path)
        m.config = m.config.replace(mode="finetune", loss=loss, finetune_batch_size=8)
        m.fit(train, va)
        return m.embed(["how do i learn python fast?"])[0]

    hard = encoder_after(tr)
    np.testing.assert_allclose(encoder_after(tr), hard, atol=1e-6)  # deterministic
    same = dataclasses.replace(tr, target=tr.label.astype(np.float64))
    np.testing.assert_allclose(encoder_after(same), hard, atol=1e-5)  # 0/1 targets: as hard
    assert not np.allclose(encoder_after(_soft(tr)), hard, atol=1e-5)


def test_siamese_cnn_bce_gets_the_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    from pairlm.models.siamese_cnn import SiameseCNNClassifier
    from tests.models.tiny_siamese_cnn import TINY

    tr = _soft(make_toy_pairs(30))
    seen = _capture(monkeypatch, torch.nn.BCEWithLogitsLoss, "forward")
    SiameseCNNClassifier(**{**TINY, "epochs": 1}).fit(tr, make_toy_pairs(12, seed=1))
    got = torch.cat([s["args"][2] for s in seen]).numpy()
    assert sorted(np.round(got, 5)) == sorted(np.round(tr.target.astype(np.float32), 5))
