"""k-fold assignment, question-graph components, leak check, subsampling, inner splits."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pairlm.data.pairs import PairDataset
from pairlm.data.splits import (
    SplitLeakError,
    check_no_leak,
    component_sizes,
    fold_indices,
    inner_validation_split,
    kfold_assignment,
    question_components,
    stratified_subsample,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def graph_dataset(n_clusters: int = 150, seed: int = 0) -> PairDataset:
    """Pairs inside clusters of questions, with the two traps of real data: ids reused by
    several pairs, and the same question text (up to case/spacing) under different ids in
    different clusters, which must join those clusters."""
    rng = np.random.default_rng(seed)
    a, b, ia, ib, y = [], [], [], [], []
    next_id = 0
    cluster_texts: list[list[tuple[str, str]]] = []
    for c in range(n_clusters):
        size = int(rng.integers(2, 6))
        qs = [(f"q{next_id + j}", f"Question {c} variant {j}?") for j in range(size)]
        next_id += size
        cluster_texts.append(qs)
        for _ in range(int(rng.integers(1, 2 * size))):
            i, j = rng.choice(size, 2, replace=False)
            (id1, t1), (id2, t2) = qs[i], qs[j]
            a.append(t1)
            b.append(t2)
            ia.append(id1)
            ib.append(id2)
            y.append(int(rng.random() < 0.4))
    # same text, new id, in a pair with a question of another cluster
    for c in range(0, n_clusters - 1, 7):
        _, text = cluster_texts[c][0]
        id_other, t_other = cluster_texts[c + 1][0]
        a.append("  " + text.upper().replace(" ", "   "))
        b.append(t_other)
        ia.append(f"q{next_id}")
        ib.append(id_other)
        next_id += 1
        y.append(0)
    return PairDataset.from_pairs(a, b, y, id_a=ia, id_b=ib, name="graph")


def test_components_join_shared_ids_and_same_text() -> None:
    ds = PairDataset.from_pairs(
        ["How are you?", "how  are YOU?", "Where is it?", "What now?", "Unrelated?"],
        ["Fine?", "Other?", "Why not?", "Which one?", "Alone?"],
        [1, 0, 1, 0, 1],
        id_a=["1", "3", "5", "2", "9"],  # pair 3 reuses id 2 (text differs: the id decides)
        id_b=["2", "4", "6", "7", "10"],
    )
    comp = question_components(ds)
    assert comp.tolist() == [0, 0, 1, 0, 2]  # numbered by first appearance
    assert component_sizes(ds).tolist() == [3, 1, 1]


def test_empty_text_does_not_join_questions() -> None:
    ds = PairDataset.from_pairs(["", ""], ["a?", "b?"], [0, 1], id_a=["1", "2"], id_b=["3", "4"])
    assert question_components(ds).tolist() == [0, 1]


@pytest.mark.parametrize("k", [3, 5, 10])
def test_stratified_folds_keep_label_rate(k: int) -> None:
    ds = graph_dataset()
    folds = kfold_assignment(ds, k, "stratified", seed=0)
    assert folds.dtype == np.int64 and folds.shape == (len(ds),)
    assert set(folds.tolist()) == set(range(k))
    for cls in (0, 1):
        per_fold = np.bincount(folds[ds.y == cls], minlength=k)
        assert per_fold.max() - per_fold.min() <= 1


def test_stratified_matches_sklearn() -> None:
    from sklearn.model_selection import StratifiedKFold

    ds = graph_dataset()
    folds = kfold_assignment(ds, 5, "stratified", seed=3)
    skf = StratifiedKFold(5, shuffle=True, random_state=3)
    for i, (train, test) in enumerate(skf.split(np.zeros(len(ds)), ds.y)):
        tr, te = fold_indices(folds, i)
        assert np.array_equal(te, test) and np.array_equal(tr, train)


def test_grouped_folds_do_not_leak_and_stay_balanced() -> None:
    ds = graph_dataset()
    comp = question_components(ds)
    assert len(np.unique(comp)) < 150  # same-text questions joined clusters
    folds = kfold_assignment(ds, 5, "grouped", seed=0)
    check_no_leak(ds, folds)
    for c in np.unique(comp):
        assert len(np.unique(folds[comp == c])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= max(np.bincount(comp))
    rates = np.bincount(folds, weights=ds.y) / sizes
    assert rates.max() - rates.min() < 0.1


def test_stratified_split_of_a_graph_leaks_and_check_says_so() -> None:
    ds = graph_dataset()
    with pytest.raises(SplitLeakError, match="in both train and test"):
        check_no_leak(ds, kfold_assignment(ds, 5, "stratified", seed=0))


def test_leak_by_text_alone_is_caught() -> None:
    ds = PairDataset.from_pairs(
        ["How are you?", "how  are YOU?"],
        ["Fine?", "Other?"],
        [1, 0],
        id_a=["1", "3"],
        id_b=["2", "4"],
    )
    with pytest.raises(
        SplitLeakError, match="text 'How are you\\?' in pairs 0 \\(fold 0\\), 1 \\(fold 1\\)"
    ):
        check_no_leak(ds, np.array([0, 1]))
    check_no_leak(ds, np.array([1, 1]))
    with pytest.raises(ValueError, match="shape"):
        check_no_leak(ds, np.array([0]))


def test_same_seed_same_folds_other_seed_differs() -> None:
    ds = graph_dataset()
    for strategy in ("stratified", "grouped"):
        f1 = kfold_assignment(ds, 5, strategy, seed=7)
        assert np.array_equal(f1, kfold_assignment(ds, 5, strategy, seed=7))
        assert not np.array_equal(f1, kfold_assignment(ds, 5, strategy, seed=8))


def test_folds_do_not_depend_on_hash_randomisation() -> None:
    code = (
        "import sys; sys.path.insert(0, {tests!r}); "
        "from data.test_splits import graph_dataset; "
        "from pairlm.data.splits import kfold_assignment; "
        "print(kfold_assignment(graph_dataset(), 5, 'grouped', 1).tolist())"
    ).format(tests=str(REPO_ROOT / "tests"))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # this process has another hash seed
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == str(kfold_assignment(graph_dataset(), 5, "grouped", 1).tolist())


def test_giant_component_is_refused_with_sizes() -> None:
    # a star: one question paired with 40 others, plus 20 isolated pairs
    a = ["Hub question?"] * 40 + [f"Lone {i}?" for i in range(20)]
    b = [f"Spoke {i}?" for i in range(40)] + [f"Partner {i}?" for i in range(20)]
    ds = PairDataset.from_pairs(a, b, [i % 2 for i in range(60)])
    with pytest.raises(ValueError, match=r"largest question-graph component holds 40 of 60"):
        kfold_assignment(ds, 5, "grouped")


def test_kfold_bad_input() -> None:
    ds = graph_dataset(20)
    with pytest.raises(ValueError, match="strategy"):
        kfold_assignment(ds, 5, "random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        kfold_assignment(ds, 1)
    with pytest.raises(ValueError, match="cannot cut"):
        kfold_assignment(ds.head(3), 5)
    unl = PairDataset.from_pairs(["a?"] * 10, [f"b{i}?" for i in range(10)])
    with pytest.raises(ValueError, match="unlabelled"):
        kfold_assignment(unl, 2)
    few_pos = PairDataset.from_pairs(
        [f"a{i}?" for i in range(20)], [f"b{i}?" for i in range(20)], [1, 1] + [0] * 18
    )
    with pytest.raises(ValueError, match="at least 5 pairs of each class"):
        kfold_assignment(few_pos, 5)


def test_fold_indices_partition() -> None:
    folds = np.array([0, 1, 2, 0, 1, 2, 2])
    tr, te = fold_indices(folds, 2)
    assert te.tolist() == [2, 5, 6] and tr.tolist() == [0, 1, 3, 4]
    with pytest.raises(ValueError, match="fold 3 has no pairs"):
        fold_indices(folds, 3)


# ---------------------------------------------------------------------- subsampling
@pytest.mark.parametrize("n", [1, 10, 37, 100, 999])
def test_stratified_subsample_keeps_ratio(n: int) -> None:
    y = np.r_[np.ones(372, int), np.zeros(628, int)]
    y = np.random.default_rng(0).permutation(y)
    ds = PairDataset.from_pairs([f"a{i}" for i in range(1000)], [f"b{i}" for i in range(1000)], y)
    idx = stratified_subsample(ds, n, seed=1)
    assert len(idx) == n and len(np.unique(idx)) == n and np.all(np.diff(idx) > 0)
    assert abs(int(y[idx].sum()) - n * 0.372) <= 1
    assert np.array_equal(idx, stratified_subsample(ds, n, seed=1))
    assert np.array_equal(idx, stratified_subsample(y, n, seed=1))  # labels work too


def test_stratified_subsample_all_and_bad() -> None:
    y = np.array([0, 1, 0, 1, 1])
    assert stratified_subsample(y, 5).tolist() == [0, 1, 2, 3, 4]
    assert stratified_subsample(y, 50).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="positive"):
        stratified_subsample(y, 0)
    # unlabelled pairs are their own stratum
    z = np.array([-1] * 50 + [0] * 30 + [1] * 20)
    assert np.bincount(z[stratified_subsample(z, 10)] + 1).tolist() == [5, 3, 2]


def test_inner_validation_split_stratified() -> None:
    y = np.random.default_rng(2).permutation(np.r_[np.ones(300, int), np.zeros(700, int)])
    fit, valid = inner_validation_split(y, 0.1, seed=0)
    assert len(valid) == 100 and len(fit) == 900
    assert np.array_equal(np.sort(np.r_[fit, valid]), np.arange(1000))
    assert y[valid].sum() == 30
    f2, v2 = inner_validation_split(y, 0.1, seed=0)
    assert np.array_equal(v2, valid) and np.array_equal(f2, fit)
    # tiny: both classes still on both sides
    fit, valid = inner_validation_split(np.array([0, 0, 1, 1, 0]), 0.1, seed=0)
    assert set(np.array([0, 0, 1, 1, 0])[valid]) == {0, 1}
    with pytest.raises(ValueError, match="fraction"):
        inner_validation_split(y, 1.0, 0)


def test_inner_validation_split_grouped() -> None:
    ds = graph_dataset(300)
    groups = question_components(ds)
    fit, valid = inner_validation_split(ds.label, 0.2, seed=0, groups=groups)
    assert not set(groups[fit]) & set(groups[valid])
    assert np.array_equal(np.sort(np.r_[fit, valid]), np.arange(len(ds)))
    assert abs(len(valid) / len(ds) - 0.2) < 0.03
    assert abs(ds.y[valid].mean() - ds.y.mean()) < 0.05
    check_no_leak(ds, (np.isin(np.arange(len(ds)), valid)).astype(np.int64))


# ---------------------------------------------------------------------- real data
@pytest.mark.integration
def test_grouped_kfold_on_qqp_subset() -> None:
    import pandas as pd

    env = os.environ.get("PAIRLM_DATA_DIR")
    candidates = ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "data"]
    path = next(
        (
            d / "qqp" / "glue-train-subset.tsv"
            for d in candidates
            if (d / "qqp" / "glue-train-subset.tsv").is_file()
        ),
        None,
    )
    if path is None:
        pytest.skip("qqp/glue-train-subset.tsv not found (set PAIRLM_DATA_DIR)")
    df = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=list(range(6)),
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
    )
    df = df[df[5].isin(["0", "1"])]
    ds = PairDataset.from_pairs(
        df[3].tolist(),
        df[4].tolist(),
        df[5].astype(int).to_numpy(),
        id_a=df[1].tolist(),
        id_b=df[2].tolist(),
    )
    sizes = component_sizes(ds)
    assert sizes[0] < len(ds) / 10
    folds = kfold_assignment(ds, 10, "grouped", seed=0)
    check_no_leak(ds, folds)
    counts = np.bincount(folds)
    assert counts.max() - counts.min() <= 5
