"""The paper's protocol: k-fold cross-validation of a model family, results in the store.

Every (run, fold) is computed once: folds already in the store are skipped, so a killed run
resumes at the first unfinished fold and ends with the numbers of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pairlm.configfile import check_fields
from pairlm.data.pairs import PairDataset
from pairlm.errors import ConfigError
from pairlm.evaluation.store import FoldResult, ResultStore, RunInfo
from pairlm.progress import progress as progress_bar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    """How a dataset is cut into folds and how each fold is used."""

    folds: int = 10
    """Number of folds (k of k-fold), at least 2."""
    strategy: Literal["stratified", "grouped"] = "stratified"
    """"stratified": pair-level stratified k-fold (the paper's protocol); "grouped": whole
    connected components of the question graph per fold (no question in train and test)."""
    seed: int = 0
    """Seed of the subsample, the fold assignment and the validation hold-outs."""
    subsample: int | None = None
    """Stratified subsample of the dataset (pairs) taken before splitting (the paper: 100,000)."""
    valid_fraction: float = 0.1
    """Share of each training fold held out for early stopping and the threshold."""
    max_train: int | None = None
    """Per-fold stratified subsample of the training part (for slow methods); None = all."""
    max_test: int | None = None
    """Per-fold stratified subsample of the test part (for slow scorers); None = all."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.folds < 2:
            raise ConfigError(f"folds must be >= 2, got {self.folds}", key="folds")
        if self.strategy not in ("stratified", "grouped"):
            raise ConfigError(
                f"strategy must be 'stratified' or 'grouped', got {self.strategy!r}",
                key="strategy",
            )
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(
                f"valid_fraction must be in (0, 1), got {self.valid_fraction}", key="valid_fraction"
            )
        for name in ("subsample", "max_train", "max_test"):
            v = getattr(self, name)
            if v is not None and v < 10:
                raise ConfigError(f"{name} must be at least 10 pairs, got {v}", key=name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        kind = (
            "pair-level stratified k-fold (the paper's protocol)"
            if self.strategy == "stratified"
            else "question-grouped k-fold (no question in both train and test)"
        )
        parts = [f"{self.folds}-fold {kind}, seed {self.seed}"]
        if self.subsample:
            parts.append(f"dataset subsampled to {self.subsample} pairs")
        parts.append(f"{self.valid_fraction:.0%} of each training fold held out for validation")
        if self.max_train:
            parts.append(f"training subsampled to {self.max_train} pairs per fold")
        if self.max_test:
            parts.append(f"test subsampled to {self.max_test} pairs per fold")
        return "; ".join(parts)


def dataset_fingerprint(ds: PairDataset) -> str:
    """A content hash of a dataset (ids, texts, labels), so results can't mix two datasets."""
    h = hashlib.sha1()
    for col in (ds.pair_id, ds.text_a, ds.text_b):
        for v in col:
            h.update(str(v).encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
    h.update(ds.label.astype(np.int8).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class PreparedData:
    """The dataset as cross-validated (after the protocol's subsample) and its fold ids."""

    dataset: PairDataset
    name: str
    folds: np.ndarray
    split_key: str


def prepare(
    store: ResultStore, dataset: PairDataset, protocol: Protocol, name: str | None = None
) -> PreparedData:
    """Subsample, assign folds (or reload the stored assignment) and record the dataset."""
    from pairlm.data.splits import kfold_assignment, stratified_subsample

    if not dataset.has_labels:
        raise ValueError(
            f"dataset {dataset.name!r} has unlabelled pairs; cross-validation needs labels"
        )
    fp = dataset_fingerprint(dataset)
    name = name or dataset.name or "dataset"
    report = dataset.report.to_dict() if dataset.report is not None else None
    if report is not None:
        report["issues"] = report["issues"][:200]  # the full list lives in the side file
    store.put_dataset(name, dataset.name, fp, len(dataset), int(dataset.label.sum()), report)
    ds = dataset
    if protocol.subsample and protocol.subsample < len(dataset):
        ds = dataset.subset(stratified_subsample(dataset, protocol.subsample, protocol.seed))
    key = (
        f"{fp}:{protocol.strategy}:k{protocol.folds}:seed{protocol.seed}"
        f":n{protocol.subsample or 'all'}"
    )
    folds = store.get_split(key)
    if folds is None:
        folds = kfold_assignment(ds, protocol.folds, protocol.strategy, protocol.seed)
        store.put_split(key, name, protocol.to_dict(), folds)
    elif len(folds) != len(ds):
        raise RuntimeError(f"stored split {key} has {len(folds)} pairs, data has {len(ds)}")
    if not store.has_pairs(key):  # texts for the report's error analysis
        store.put_pairs(key, ds.pair_id, ds.text_a, ds.text_b)
    return PreparedData(ds, name, folds, key)


def fold_data(
    prepared: PreparedData, fold: int, protocol: Protocol
) -> tuple[PairDataset, PairDataset, np.ndarray, PairDataset]:
    """(train, valid, test indices, test) for one fold, subsampled per the protocol.

    Deterministic in (protocol.seed, fold): a resumed run sees exactly the same data.
    """
    from pairlm.data.splits import (
        fold_indices,
        inner_validation_split,
        question_components,
        stratified_subsample,
    )

    ds = prepared.dataset
    train_idx, test_idx = fold_indices(prepared.folds, fold)
    seed = protocol.seed * 1000 + fold
    if protocol.max_test and protocol.max_test < len(test_idx):
        test_idx = test_idx[stratified_subsample(ds.subset(test_idx), protocol.max_test, seed)]
    train_all = ds.subset(train_idx)
    groups = question_components(train_all) if protocol.strategy == "grouped" else None
    fit_rel, val_rel = inner_validation_split(
        train_all.label, protocol.valid_fraction, seed, groups
    )
    train, valid = train_all.subset(fit_rel), train_all.subset(val_rel)
    if protocol.max_train and protocol.max_train < len(train):
        train = train.subset(stratified_subsample(train, protocol.max_train, seed))
        n_valid = max(
            50, round(protocol.max_train * protocol.valid_fraction / (1 - protocol.valid_fraction))
        )
        if n_valid < len(valid):
            valid = valid.subset(stratified_subsample(valid, n_valid, seed))
    return train, valid, test_idx, ds.subset(test_idx)


ProgressFn = Callable[[str, int, int], None]


def cross_validate(
    dataset: PairDataset,
    family: str,
    config: dict[str, Any] | None = None,
    *,
    store: ResultStore,
    protocol: Protocol | None = None,
    run_name: str | None = None,
    dataset_name: str | None = None,
    only_folds: Sequence[int] | None = None,
    progress: bool | None = None,
    on_fold: ProgressFn | None = None,
) -> RunInfo:
    """Run (or resume) `family` with `config` under `protocol`; returns the run's record.

    Folds already stored are skipped. `only_folds` restricts the work to some folds.
    """
    protocol = protocol or Protocol()
    config = dict(config or {})
    run, prepared = open_run(store, dataset, family, config, protocol, run_name, dataset_name)
    wanted = list(range(protocol.folds)) if only_folds is None else sorted(set(only_folds))
    bad = [f for f in wanted if not 0 <= f < protocol.folds]
    if bad:
        raise ValueError(f"fold(s) {bad} out of range 0..{protocol.folds - 1}")
    done = store.finished_folds(run.run_id)
    todo = [f for f in wanted if f not in done]
    if done & set(wanted):
        log.info("run %s: %d fold(s) already done, resuming", run.name, len(done & set(wanted)))

    bar = progress_bar(
        total=len(wanted),
        initial=len(wanted) - len(todo),
        desc=run.name,
        unit="fold",
        enabled=progress,
        leave=True,
    )
    try:
        for fold in todo:
            out = run_fold(prepared, family, config, fold, protocol)
            save_fold_output(store, run, out)
            metrics = out.result.metrics
            bar.update(1)
            bar.set_postfix(f1=f"{metrics['f1']:.4f}")
            if on_fold is not None:
                on_fold(run.name, fold, protocol.folds)
    finally:
        bar.close()
    return run


@dataclass(frozen=True)
class FoldOutput:
    """One fold's result before it is stored: what a worker (a process, a Ray task) hands back
    to the one process that writes the store."""

    result: FoldResult
    test_idx: np.ndarray
    pair_ids: np.ndarray
    labels: np.ndarray
    proba: np.ndarray


def config_identity(family: str, config: dict[str, Any]) -> dict[str, Any]:
    """What a run's config means: parsed by its family and dumped without the runtime keys
    (threads, device, checkpoint folder...), so that two spellings of one run compare equal."""
    from pairlm.models.registry import get_family

    return dict(get_family(family).config_cls.from_dict(dict(config), stored=True).identity_dict())


def open_run(
    store: ResultStore,
    dataset: PairDataset,
    family: str,
    config: dict[str, Any],
    protocol: Protocol,
    run_name: str | None = None,
    dataset_name: str | None = None,
) -> tuple[RunInfo, PreparedData]:
    """Validate the config, cut (or reload) the folds and get or create the run; the same run
    name with another config or data raises `StoreError`."""
    from pairlm.models.registry import get_family

    cls = get_family(family)
    cls.config_cls.from_dict(dict(config))  # validate before any work
    prepared = prepare(store, dataset, protocol, dataset_name)
    caveats = list(getattr(cls, "caveats", ()))
    run = store.get_or_create_run(
        run_name or family,
        family,
        config,
        prepared.name,
        prepared.split_key,
        protocol.to_dict(),
        caveats,
        canonical=lambda c: config_identity(family, c),
    )
    return run, prepared


def evaluate_fold(
    model: Any,
    fold: int,
    train: PairDataset,
    valid: PairDataset,
    test_idx: np.ndarray,
    test: PairDataset,
    fit_seconds: float,
) -> FoldOutput:
    """Score a fitted model on a fold's test pairs and compute the fold's metrics."""
    from pairlm.evaluation.metrics import binary_metrics

    t0 = time.perf_counter()
    proba = np.asarray(model.predict_proba(test), dtype=np.float64)
    pred_s = time.perf_counter() - t0
    metrics = binary_metrics(test.y, proba, model.threshold_)
    result = FoldResult(
        fold,
        len(train),
        len(valid),
        len(test),
        float(model.threshold_),
        metrics,
        fit_seconds,
        pred_s,
    )
    return FoldOutput(result, np.asarray(test_idx), np.asarray(test.pair_id), test.y, proba)


def run_fold(
    prepared: PreparedData, family: str, config: dict[str, Any], fold: int, protocol: Protocol
) -> FoldOutput:
    """Train `family` on one fold and score its test part; touches no store."""
    from pairlm.models.registry import create

    train, valid, test_idx, test = fold_data(prepared, fold, protocol)
    model = create(family, config)
    model.hold_out(test)  # a family that makes its own training pairs leaves these out
    model.fit(train, valid)
    # `fit_seconds_` counts the training earlier processes did when the fit resumed from a
    # checkpoint: a fold resumed near its end reports its whole training.
    return evaluate_fold(model, fold, train, valid, test_idx, test, model.fit_seconds_)


def save_fold_output(store: ResultStore, run: RunInfo, out: FoldOutput) -> None:
    """Store one fold's metrics and predictions in one transaction."""
    store.save_fold(run.run_id, out.result, out.test_idx, out.pair_ids, out.labels, out.proba)
    m = out.result.metrics
    log.info("run %s fold %d: F1 %.4f AUC %.4f", run.name, out.result.fold, m["f1"], m["roc_auc"])
