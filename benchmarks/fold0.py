"""Fold 0 of the 10-fold QQP protocol, cut as `pairlm run` cuts it, for the fold-0 studies.

The shared QQP subset, stratified 10-fold assignment with seed 0, fold 0's training part with
10% held out for validation (seed 0), and that validation part split into the 500 pairs an
`llm-lora` model early-stops and sets its threshold on (`stratified_cap`) and the rest, the
pairs a study judges its settings on. Used by `lora_choices.py` and `distill_study.py`
(imported as a sibling module: run those scripts from the repository root).
"""

from __future__ import annotations

from typing import Any


def fold0_parts(n_train: int | None, n_judge: int) -> tuple[Any, Any, Any, Any, Any]:
    """(train, valid, test, stop, judge) of fold 0: `train` stratified-subsampled to
    `n_train` pairs (None: all), `stop` the 500 validation pairs early stopping sees, `judge`
    at most `n_judge` of the other validation pairs. `test` is returned for the caller to keep
    out of everything it builds; no study here scores it."""
    import numpy as np

    from pairlm.data import load_dataset
    from pairlm.data.splits import (
        fold_indices,
        inner_validation_split,
        kfold_assignment,
        stratified_subsample,
    )
    from pairlm.models.llm.prompting import stratified_cap

    ds = load_dataset("qqp-subset")
    folds = kfold_assignment(ds, 10, "stratified", 0)
    train_idx, test_idx = fold_indices(folds, 0)
    train_all = ds.subset(train_idx)
    fit_rel, val_rel = inner_validation_split(train_all.label, 0.1, 0, None)
    train, valid = train_all.subset(fit_rel), train_all.subset(val_rel)
    if n_train is not None and n_train < len(train):
        train = train.subset(stratified_subsample(train, n_train, 0))
    stop = stratified_cap(valid, 500, 0)
    rest = valid.subset(np.flatnonzero(~np.isin(valid.pair_id, stop.pair_id)))
    if n_judge < len(rest):
        rest = rest.subset(stratified_subsample(rest, n_judge, 0))
    return train, valid, ds.subset(test_idx), stop, rest
