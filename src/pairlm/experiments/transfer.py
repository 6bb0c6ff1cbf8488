"""Transfer runs: a model trained on each fold of the source dataset scores the same fold of
each target dataset (stored as one run per target, `<name>@<target>`); and the two data
helpers every job uses (`load_source`, `store_pairs`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pairlm.evaluation.cv import Protocol
from pairlm.experiments.spec import TargetSpec, TransferSpec


def load_source(dataset: str, fmt: str, policy: str, **read_options: Any) -> Any:
    from pairlm.data import load_dataset

    return load_dataset(dataset, fmt=fmt, policy=policy, **read_options)


def store_pairs(store: Any, prepared: Any) -> None:
    if not store.has_pairs(prepared.split_key):
        ds = prepared.dataset
        store.put_pairs(prepared.split_key, ds.pair_id, ds.text_a, ds.text_b)


def transfer_validate(
    source: Any,
    targets: list[tuple[TargetSpec, Any]],
    spec: TransferSpec,
    *,
    store: Any,
    protocol: Protocol,
    target_protocol: Protocol,
    source_name: str,
    only_folds: list[int] | None = None,
    on_fold: Callable[[str, int, int], None] | None = None,
) -> list[Any]:
    """Train `spec` on each fold's training part of `source` and score each target's fold.

    Resumable: a fold is skipped for the targets that already have it; the model of a fold
    is trained only when some target still needs that fold. Returns the targets' RunInfos.
    """
    from pairlm.evaluation.cv import save_fold_output

    src, runs = open_transfer(store, source, targets, spec, protocol, target_protocol, source_name)
    wanted = list(range(protocol.folds)) if only_folds is None else sorted(set(only_folds))
    bad = [f for f in wanted if not 0 <= f < protocol.folds]
    if bad:
        raise ValueError(f"fold(s) {bad} out of range 0..{protocol.folds - 1}")
    for fold in wanted:
        todo = [(r, p) for r, p in runs if fold not in store.finished_folds(r.run_id)]
        if not todo:
            continue
        fitted = fit_transfer_fold(src, spec, fold, protocol)
        for run, tprep in todo:
            save_fold_output(store, run, score_transfer_target(fitted, tprep, target_protocol))
            if on_fold is not None:
                on_fold(run.name, fold, protocol.folds)
    return [r for r, _ in runs]


def open_transfer(
    store: Any,
    source: Any,
    targets: list[tuple[TargetSpec, Any]],
    spec: TransferSpec,
    protocol: Protocol,
    target_protocol: Protocol,
    source_name: str,
) -> tuple[Any, list[tuple[Any, Any]]]:
    """Validate, cut the source's and the targets' folds and get or create one run per target:
    (the source's PreparedData, [(target RunInfo, target PreparedData)])."""
    from pairlm.evaluation.cv import prepare
    from pairlm.models.registry import get_family

    cls = get_family(spec.model)
    cls.config_cls.from_dict(spec.config)
    src = prepare(store, source, protocol, source_name)
    caveats = list(getattr(cls, "caveats", ()))
    runs = []
    for tspec, tds in targets:
        tprep = prepare(store, tds, target_protocol, tspec.name)
        store_pairs(store, tprep)
        run = store.get_or_create_run(
            spec.run_name(tspec),
            spec.model,
            spec.config,
            tprep.name,
            tprep.split_key,
            protocol.to_dict(),
            [*caveats, f"transfer: trained on {source_name}, scored on {tprep.name}"],
            canonical=lambda c: cls.config_cls.from_dict(c, stored=True).identity_dict(),
        )
        store.put_transfer(run.run_id, source_name, src.split_key, tprep.name)
        runs.append((run, tprep))
    return src, runs


@dataclass
class _FittedFold:
    fold: int
    model: Any
    train: Any
    valid: Any
    fit_seconds: float


def fit_transfer_fold(src: Any, spec: TransferSpec, fold: int, protocol: Protocol) -> _FittedFold:
    """Train `spec` on fold `fold`'s training part of the source (no store)."""
    from pairlm.evaluation.cv import fold_data
    from pairlm.models.registry import create

    train, valid, _, test = fold_data(src, fold, protocol)
    model = create(spec.model, spec.config)
    model.hold_out(test)
    model.fit(train, valid)
    return _FittedFold(fold, model, train, valid, model.fit_seconds_)


def score_transfer_target(fitted: _FittedFold, tprep: Any, target_protocol: Protocol) -> Any:
    """Score a target's fold with the fold's model: a FoldOutput (no store)."""
    from pairlm.data.splits import fold_indices, stratified_subsample
    from pairlm.evaluation.cv import evaluate_fold

    fold = fitted.fold
    _, test_idx = fold_indices(tprep.folds, fold)
    if target_protocol.max_test and target_protocol.max_test < len(test_idx):
        sub = tprep.dataset.subset(test_idx)
        seed = target_protocol.seed * 1000 + fold
        test_idx = test_idx[stratified_subsample(sub, target_protocol.max_test, seed)]
    test = tprep.dataset.subset(test_idx)
    return evaluate_fold(
        fitted.model, fold, fitted.train, fitted.valid, test_idx, test, fitted.fit_seconds
    )
