"""Silver-pair samplers: texts of the training pairs only, never a gold or held-out pair (in
either order), never a text with itself, the counts asked, the same pairs for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset, normalize_text_fast
from pairlm.distill.sampling import (
    SAMPLERS,
    distinct_texts,
    pair_key,
    pair_keys,
    sample_silver,
)
from tests.conftest import make_toy_pairs


def _embed(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in embeddings: bag of hashed words, L2-normalised."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, sum(map(ord, w)) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


@pytest.fixture(scope="module")
def gold() -> PairDataset:
    return make_toy_pairs(200, seed=1)


def _draw(gold: PairDataset, counts: dict[str, int], seed: int = 0, exclude=None):
    texts = distinct_texts(gold)
    ex = pair_keys(gold) if exclude is None else exclude
    return texts, sample_silver(texts, counts, ex, seed=seed, embed=_embed)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_each_sampler_gives_fresh_pairs_of_training_texts(gold: PairDataset, sampler: str) -> None:
    _, s = _draw(gold, {sampler: 150})
    assert s.counts() == {sampler: 150}
    keys = [pair_key(a, b) for a, b in zip(s.text_a, s.text_b)]
    assert len(set(keys)) == len(keys), "a pair drawn twice"
    assert not set(keys) & pair_keys(gold), "a gold pair (in some order) was drawn"
    assert all(a != b for a, b in keys), "a text paired with itself"
    train_texts = {normalize_text_fast(t) for t in (*gold.text_a, *gold.text_b)}
    assert {t for k in keys for t in k} <= train_texts


def test_samplers_mixed_counts_no_pair_twice_across_samplers(gold: PairDataset) -> None:
    _, s = _draw(gold, {"neighbours": 120, "bm25": 120, "random": 60})
    assert s.counts() == {"neighbours": 120, "bm25": 120, "random": 60}
    keys = [pair_key(a, b) for a, b in zip(s.text_a, s.text_b)]
    assert len(set(keys)) == len(s) == 300


def test_same_seed_same_pairs_other_seed_other_pairs(gold: PairDataset) -> None:
    counts = {"neighbours": 80, "bm25": 80, "random": 40}
    _, a = _draw(gold, counts, seed=3)
    _, b = _draw(gold, counts, seed=3)
    _, c = _draw(gold, counts, seed=4)
    assert a.text_a == b.text_a and a.text_b == b.text_b
    assert list(a.sampler) == list(b.sampler)
    assert set(zip(a.text_a, a.text_b)) != set(zip(c.text_a, c.text_b))


def test_excluded_pairs_never_drawn_even_when_almost_every_pair_is_asked() -> None:
    gold = make_toy_pairs(60, seed=2)
    texts = distinct_texts(gold)
    n = len(texts)
    held = make_toy_pairs(40, seed=9)  # other pairs, over the same kind of texts
    exclude = pair_keys(gold) | pair_keys(held)
    s = sample_silver(texts, {"random": n * n}, exclude, seed=0)
    keys = {pair_key(a, b) for a, b in zip(s.text_a, s.text_b)}
    assert not keys & exclude
    free = {pair_key(a, b) for i, a in enumerate(texts) for b in texts[i + 1 :]} - exclude
    assert keys == free, "asked for more than exist: every free pair, and nothing else"
    # without the exclusion, the held-out pairs whose texts are training texts are drawn
    s2 = sample_silver(texts, {"random": n * n}, pair_keys(gold), seed=0)
    inside = {
        k for k in pair_keys(held) if {normalize_text_fast(t) for t in texts} >= set(k)
    } - pair_keys(gold)
    assert inside and inside <= {pair_key(a, b) for a, b in zip(s2.text_a, s2.text_b)}


def test_texts_differing_in_case_or_spaces_are_one_text() -> None:
    ds = PairDataset.from_pairs(
        ["How do I learn Python?", "how do  i learn python?", "What is Java?"],
        ["Best way to learn Python?", "What is Java?", "best way to learn python?"],
        [1, 0, 0],
    )
    texts = distinct_texts(ds)
    assert len(texts) == 3
    s = sample_silver(texts, {"random": 10}, pair_keys(ds), seed=0)
    assert len(s) == 0  # the 3 possible pairs are all gold


def test_unknown_sampler_and_neighbours_without_encoder_are_refused(gold: PairDataset) -> None:
    texts = distinct_texts(gold)
    with pytest.raises(ValueError, match="unknown sampler"):
        sample_silver(texts, {"nope": 3}, set())
    with pytest.raises(ValueError, match="embed"):
        sample_silver(texts, {"neighbours": 3}, set())


def test_neighbours_are_nearer_than_random_pairs(gold: PairDataset) -> None:
    texts, s = _draw(gold, {"neighbours": 100, "random": 100})
    emb = _embed(texts)
    sim = np.sum(emb[s.i] * emb[s.j], axis=1)
    assert sim[s.sampler == "neighbours"].mean() > sim[s.sampler == "random"].mean() + 0.1
