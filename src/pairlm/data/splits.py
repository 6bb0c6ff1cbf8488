"""Cross-validation splits of pair data.

Two strategies for `kfold_assignment`:

- ``"stratified"`` (default, the paper's protocol): scikit-learn's
  ``StratifiedKFold(k, shuffle=True, random_state=seed)`` at pair level. A question may
  appear in training pairs and in test pairs of the same fold.
- ``"grouped"``: no question appears in both the training and the test part of a fold.
  Questions are the nodes of a graph (a question is identified by its id *and* by its
  normalised text, so two ids with the same normalised text are one node) and pairs are
  its edges; each connected component goes to one fold whole. Components are assigned
  largest first, each to the fold where it best balances the per-fold counts of positive
  and negative pairs (a deterministic greedy; ties in size are ordered by the seed).

Everything is deterministic in the seed: numpy's PCG64 generator and scikit-learn's
`random_state`, no dependence on Python's hash randomisation.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import MISSING_LABEL, PairDataset, normalize_text
from pairlm.errors import SplitLeakError

log = logging.getLogger(__name__)

Strategy = Literal["stratified", "grouped"]
STRATEGIES: tuple[str, ...] = ("stratified", "grouped")


# ---------------------------------------------------------------------- question graph
def _question_keys(dataset: PairDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integer node codes of (id_a, id_b, norm(text_a), norm(text_b)) per pair.

    Ids and texts live in separate namespaces; an empty normalised text is not a node of its
    own (it falls back to its id), so empty texts do not join unrelated questions.
    """
    n = len(dataset)
    cache: dict[str, str] = {}

    def norm(t: Any) -> str:
        s = str(t)
        v = cache.get(s)
        if v is None:
            v = cache[s] = normalize_text(s)
        return v

    ida = ["i\x00" + str(x) for x in dataset.id_a]
    idb = ["i\x00" + str(x) for x in dataset.id_b]
    ta = [("t\x00" + v) if (v := norm(t)) else k for t, k in zip(dataset.text_a, ida)]
    tb = [("t\x00" + v) if (v := norm(t)) else k for t, k in zip(dataset.text_b, idb)]
    keys = np.empty(4 * n, dtype=object)
    keys[:n], keys[n : 2 * n], keys[2 * n : 3 * n], keys[3 * n :] = ida, idb, ta, tb
    index: dict[str, int] = {}  # codes in order of first appearance (as pandas.factorize)
    codes = np.fromiter(
        (index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys)
    )
    return codes[:n], codes[n : 2 * n], codes[2 * n : 3 * n], codes[3 * n :]


def question_components(dataset: PairDataset) -> np.ndarray:
    """Connected component of the question graph of each pair, as int64 ids numbered in
    order of first appearance (0, 1, 2, ...). Pairs sharing a question (same id or same
    normalised text), directly or through other pairs, share a component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(dataset)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ia, ib, ta, tb = _question_keys(dataset)
    n_nodes = int(max(ia.max(), ib.max(), ta.max(), tb.max())) + 1
    rows = np.concatenate([ia, ia, ib])
    cols = np.concatenate([ib, ta, tb])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_nodes, n_nodes))
    _, node_comp = connected_components(graph, directed=False)
    comp = node_comp[ia]
    # canonical numbering: by first appearance among the pairs
    _, first, inverse = np.unique(comp, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def component_sizes(dataset: PairDataset) -> np.ndarray:
    """Sizes (pairs) of the question-graph components, largest first."""
    comp = question_components(dataset)
    return np.sort(np.bincount(comp))[::-1] if len(comp) else np.zeros(0, dtype=np.int64)


def check_no_leak(dataset: PairDataset, folds: np.ndarray) -> None:
    """Raise `SplitLeakError` if any question (by id or by normalised text) appears in pairs
    of two different folds, i.e. in the training and the test part of some fold."""
    f = _check_folds(folds, len(dataset))
    if len(f) == 0:
        return
    ia, ib, ta, tb = _question_keys(dataset)
    codes = np.concatenate([ia, ib, ta, tb])
    fold4 = np.tile(f, 4)
    n_codes = int(codes.max()) + 1
    lo = np.full(n_codes, np.iinfo(np.int64).max)
    hi = np.full(n_codes, np.iinfo(np.int64).min)
    np.minimum.at(lo, codes, fold4)
    np.maximum.at(hi, codes, fold4)
    leaking = np.flatnonzero(lo != hi)
    if len(leaking):
        code = leaking[0]
        where = np.flatnonzero(codes == code) % len(f)
        col = int(np.flatnonzero(codes == code)[0] // len(f))
        question = (dataset.id_a, dataset.id_b, dataset.text_a, dataset.text_b)[col][where[0]]
        kind = "id" if col < 2 else "text"
        examples = ", ".join(
            f"{dataset.pair_id[i]!s} (fold {int(f[i])})" for i in np.unique(where)[:6]
        )
        raise SplitLeakError(
            f"{len(leaking)} question(s) appear in more than one fold, i.e. in both train "
            f"and test; e.g. question {kind} {str(question)[:80]!r} in pairs {examples}"
        )


# ---------------------------------------------------------------------- k-fold
def _check_folds(folds: Any, n: int) -> np.ndarray:
    f = np.asarray(folds)
    if f.shape != (n,):
        raise ValueError(f"folds has shape {f.shape}, expected ({n},) (one fold id per pair)")
    if f.dtype.kind not in "iu":
        raise ValueError(f"folds must be integers, got dtype {f.dtype}")
    return f.astype(np.int64)


def _labels_of(data: Any) -> np.ndarray:
    if isinstance(data, PairDataset):
        return np.asarray(data.label)
    return np.asarray(data)


def kfold_assignment(
    dataset: PairDataset, k: int = 10, strategy: Strategy = "stratified", seed: int = 0
) -> np.ndarray:
    """Fold id (0..k-1) of every pair, as an int64 array of length `len(dataset)`.

    ``"stratified"``: StratifiedKFold(k, shuffle=True, random_state=seed) on the labels; the
    count of each class differs by at most one pair between folds.
    ``"grouped"``: whole question-graph components per fold (see the module docstring).
    Raises `ValueError` if a component holds more than n/k pairs (a giant component would
    make one fold much larger than the others; subsample the data or use "stratified").
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    k = int(k)
    n = len(dataset)
    if n < k:
        raise ValueError(f"cannot cut {n} pairs into {k} folds")
    y = dataset.label
    if (y == MISSING_LABEL).any():
        raise ValueError(
            f"dataset {dataset.name!r} has {int((y == MISSING_LABEL).sum())} unlabelled "
            "pairs; stratified/grouped folds need every label"
        )
    y = y.astype(np.int64)
    if strategy == "stratified":
        import warnings

        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y, minlength=2)
        if counts.min() < k:
            raise ValueError(
                f"stratified {k}-fold needs at least {k} pairs of each class; "
                f"have {int(counts[0])} negative and {int(counts[1])} positive"
            )
        folds = np.empty(n, dtype=np.int64)
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for i, (_, test) in enumerate(skf.split(np.zeros(n), y)):
                folds[test] = i
        return folds

    comp = question_components(dataset)
    sizes = np.bincount(comp)
    n_comp = len(sizes)
    if n_comp < k:
        raise ValueError(f"grouped {k}-fold: only {n_comp} question-graph components")
    if sizes.max() > n / k:
        top = np.sort(sizes)[::-1][:5]
        raise ValueError(
            f"grouped {k}-fold impossible without a lopsided fold: the largest question-graph "
            f"component holds {int(top[0])} of {n} pairs (> n/k = {n / k:.0f}); largest "
            f"components: {top.tolist()}. Subsample the data or use strategy='stratified'."
        )
    rng = np.random.default_rng(seed)
    pos = np.bincount(comp, weights=y, minlength=n_comp)
    assign = _greedy_bins(sizes, pos, np.full(k, 1.0 / k), rng)
    perm = rng.permutation(k)  # folds exchangeable: fold 0 is not always the largest-first one
    return perm[assign][comp]


def _greedy_bins(
    sizes: np.ndarray, pos: np.ndarray, shares: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Bin of each group: groups in decreasing size (ties in seeded random order), each put
    where it most reduces sum over bins and classes of (count - share·total)²."""
    neg = sizes - pos
    tot_pos, tot_neg = float(pos.sum()), float(neg.sum())
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    n_bins = len(shares)
    # Deficits (target − current) per bin; adding (p, q) to bin j changes the squared error
    # by p² + q² − 2(p·dpos_j + q·dneg_j): pick the bin with the largest p·dpos_j + q·dneg_j.
    dpos = (shares * tot_pos).tolist()
    dneg = (shares * tot_neg).tolist()
    bins = range(n_bins)
    out = np.empty(len(sizes), dtype=np.int64)
    for g, p, q in zip(order.tolist(), pos[order].tolist(), neg[order].tolist()):
        j = max(bins, key=lambda b: p * dpos[b] + q * dneg[b])
        dpos[j] -= p
        dneg[j] -= q
        out[g] = j
    return out


def fold_indices(folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx) of fold `fold`: the pairs outside it and the pairs in it."""
    f = np.asarray(folds)
    if f.ndim != 1:
        raise ValueError(f"folds must be 1-D, got shape {f.shape}")
    test = np.flatnonzero(f == fold)
    if len(test) == 0:
        raise ValueError(f"fold {fold} has no pairs (fold ids present: {np.unique(f).tolist()})")
    return np.flatnonzero(f != fold), test


# ---------------------------------------------------------------------- subsampling
def _stratified_counts(counts: np.ndarray, n_take: int) -> np.ndarray:
    """Split `n_take` over strata proportionally to `counts` (largest remainder)."""
    total = counts.sum()
    exact = counts * (n_take / total)
    take = np.floor(exact).astype(np.int64)
    rest = n_take - int(take.sum())
    if rest:
        # largest remainders first; ties to the larger stratum, then the lower label
        order = np.lexsort((np.arange(len(counts)), -counts, -(exact - take)))
        take[order[:rest]] += 1
    return np.minimum(take, counts)


def stratified_subsample(dataset: Any, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `n` pairs drawn without replacement keeping the label ratio.

    `dataset` is a PairDataset (or an array of labels); unlabelled pairs (-1) form their
    own stratum. Each class gets its share of `n` rounded by largest remainder, so the
    class counts are within one pair of exact proportionality. `n >= len` returns all.
    """
    y = _labels_of(dataset)
    total = len(y)
    if int(n) <= 0:
        raise ValueError(f"subsample size must be positive, got {n}")
    if n >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, inv = np.unique(y, return_inverse=True)
    counts = np.bincount(inv, minlength=len(classes))
    take = _stratified_counts(counts, int(n))
    chosen = [
        rng.choice(np.flatnonzero(inv == c), size=int(take[c]), replace=False)
        for c in range(len(classes))
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def inner_validation_split(
    labels: Any, fraction: float, seed: int, groups: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """(fit_idx, valid_idx), sorted, holding out about `fraction` of a training fold.

    Stratified by label (every class with at least two pairs has at least one pair on each
    side). With `groups` (e.g. `question_components` of the training fold), whole groups
    go to one side, chosen greedily to match the fraction of each class.
    """
    y = _labels_of(labels).astype(np.int64)
    n = len(y)
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    if n < 2:
        raise ValueError(f"cannot split {n} pair(s) into fit and validation parts")
    rng = np.random.default_rng(seed)
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups has shape {g.shape}, expected ({n},)")
        _, gid = np.unique(g, return_inverse=True)
        gid = gid.reshape(-1)
        sizes = np.bincount(gid)
        if len(sizes) < 2:
            raise ValueError("a grouped validation split needs at least two groups")
        pos = np.bincount(gid, weights=(y == 1).astype(np.float64), minlength=len(sizes))
        side = _greedy_bins(sizes, pos, np.array([1.0 - fraction, fraction]), rng)
        if not (side == 1).any():  # the first (largest) group always lands in "fit"
            side[np.argmin(sizes)] = 1
        valid_mask = side[gid] == 1
    else:
        classes, inv = np.unique(y, return_inverse=True)
        counts = np.bincount(inv)
        n_valid = min(n - 1, max(1, round(n * float(fraction))))
        take = _stratified_counts(counts, n_valid)
        take = np.where(counts >= 2, np.clip(take, 1, counts - 1), take)
        valid_mask = np.zeros(n, dtype=bool)
        for c in range(len(classes)):
            members = np.flatnonzero(inv == c)
            valid_mask[rng.choice(members, size=int(take[c]), replace=False)] = True
        if not valid_mask.any():
            valid_mask[rng.integers(n)] = True
    return np.flatnonzero(~valid_mask), np.flatnonzero(valid_mask)
