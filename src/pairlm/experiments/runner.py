"""Experiment files (TOML) and their runner: every run on the same folds, resumable, several
runs at once in worker processes when memory allows, one progress view over the grid.

```toml
[experiment]
name = "quickstart"
description = "..."
backend = "local"        # or "ray": every (run, fold) a Ray task (pairlm.experiments.ray_backend)
address = "auto"         # with backend = "ray": a running cluster (default: start a local Ray)

[data]
dataset = "qqp"          # a registered name (`pairlm data list`) or a path (relative to this file)
format = "auto"
policy = "skip"          # or "error"
name = "qqp"             # the dataset's name in the store (default: `dataset`)

[protocol]               # pairlm.evaluation.cv.Protocol
folds = 5
strategy = "stratified"  # or "grouped"
seed = 0
subsample = 4000         # more than the data has: all of it

[[runs]]
name = "lexical"
model = "lexical"        # a registered family
max_train = 2000         # optional per-run protocol overrides: max_train, max_test, subsample
optional = false         # true: skip (with a warning) when the family is not registered/installed
memory_gb = 1.5          # optional: peak memory of one fold, for scheduling parallel workers
[runs.config]            # the family's config keys
C = 1.0

[[transfer]]             # train on [data] (fold by fold), score other datasets
run = "lexical"          # a [[runs]] entry whose model/config/max_train to reuse (or model + config)
targets = ["mrpc", "stsb"]   # names or paths, or tables {dataset, format, policy, name}
max_test = 1000          # optional: per-fold subsample of each target's part

[check]                  # optional: the behavioural suite on each run's fold-0 model
runs = ["lexical"]       # default: every [[runs]] entry; n, seed, tolerance, fold (see checks.py)
```

A transfer run is stored as one run per target, named `<name>@<target>`: the target is cut
into the same number of folds (stratified, same seed); in fold k the model trained on the
source's fold-k training part scores the target's fold k, so every target pair is scored
exactly once and the report treats the run like any cross-validated run on the target.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import queue as queue_mod
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairlm.evaluation.cv import Protocol
from pairlm.experiments.checks import parse_check
from pairlm.models.base import ConfigError

log = logging.getLogger(__name__)

_TOP_KEYS = {"experiment", "data", "protocol", "runs", "transfer", "check"}
_DATA_KEYS = {
    "dataset",
    "format",
    "policy",
    "name",
    "columns",
    "keep_self_pairs",
    "keep_duplicates",
}
_RUN_KEYS = {
    "name",
    "model",
    "config",
    "max_train",
    "max_test",
    "subsample",
    "description",
    "optional",
    "memory_gb",
}
_TRANSFER_KEYS = {
    "name",
    "run",
    "model",
    "config",
    "targets",
    "max_train",
    "max_test",
    "optional",
    "memory_gb",
    "description",
}
_TARGET_KEYS = {"dataset", "format", "policy", "name"}
_PER_RUN_PROTOCOL = ("max_train", "max_test", "subsample")


class RunFailed(RuntimeError):
    """Some runs of an experiment raised; the others finished (and everything is stored)."""


@dataclass
class RunSpec:
    name: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    max_train: int | None = None
    max_test: int | None = None
    description: str = ""
    subsample: int | None = None
    optional: bool = False
    memory_gb: float | None = None


@dataclass
class TargetSpec:
    """A dataset a transfer run is scored on."""

    dataset: str
    format: str = "auto"
    policy: str = "skip"
    name: str = ""


@dataclass
class TransferSpec:
    name: str
    model: str
    config: dict[str, Any]
    targets: list[TargetSpec]
    max_train: int | None = None
    max_test: int | None = None
    optional: bool = False
    memory_gb: float | None = None
    description: str = ""

    def run_name(self, target: TargetSpec) -> str:
        return f"{self.name}@{target.name}"


@dataclass
class Experiment:
    name: str
    description: str
    dataset: str
    data_format: str
    policy: str
    protocol: Protocol
    runs: list[RunSpec]
    source: Path | None = None
    transfers: list[TransferSpec] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(name, why) of optional runs left out because their family is unavailable."""
    dataset_name: str = ""
    read_options: dict[str, Any] = field(default_factory=dict)
    """Reader options of [data]: columns, drop_self_pairs, drop_duplicates."""
    backend: str = "local"
    """Where the (run, fold) cells run: "local" (this machine's process pool) or "ray"."""
    address: str | None = None
    """The Ray cluster's address with backend "ray" (None: start a local Ray)."""
    check: Any = None
    """`[check]`: the behavioural suite on each run's fold-0 model (`experiments.checks`)."""

    def __post_init__(self) -> None:
        if not self.dataset_name:
            self.dataset_name = self.dataset

    def protocol_for(self, run: RunSpec | TransferSpec) -> Protocol:
        changes = {
            k: getattr(run, k) for k in _PER_RUN_PROTOCOL if getattr(run, k, None) is not None
        }
        return dataclasses.replace(self.protocol, **changes) if changes else self.protocol

    def target_protocol(self, spec: TransferSpec) -> Protocol:
        """How a transfer target is cut: the source's fold count and seed, stratified."""
        return Protocol(
            folds=self.protocol.folds,
            strategy="stratified",
            seed=self.protocol.seed,
            valid_fraction=self.protocol.valid_fraction,
            max_test=spec.max_test,
        )

    def names(self) -> list[str]:
        """Every run name (transfer runs count by their prefix and by `<name>@<target>`)."""
        out = [r.name for r in self.runs]
        for t in self.transfers:
            out.append(t.name)
            out.extend(t.run_name(x) for x in t.targets)
        return out


def _unknown(where: str, got: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        )


def _resolve_path(dataset: str, source: Path | None) -> str:
    if source is not None and (
        "/" in dataset or dataset.endswith((".tsv", ".csv", ".txt", ".jsonl", ".parquet"))
    ):
        p = Path(dataset)
        if not p.is_absolute():
            return str((source.parent / p).resolve())
    return dataset


def _opt_int(where: str, tab: dict[str, Any], key: str) -> int | None:
    v = tab.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 10:
        raise ConfigError(f"{where}: `{key}` must be an integer >= 10, got {v!r}")
    return int(v)


def _opt_bool(where: str, tab: dict[str, Any], key: str) -> bool:
    v = tab.get(key, False)
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: `{key}` must be true or false, got {v!r}")
    return v


def _opt_float(where: str, tab: dict[str, Any], key: str) -> float | None:
    v = tab.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise ConfigError(f"{where}: `{key}` must be a positive number, got {v!r}")
    return float(v)


def _check_family(where: str, model: str, config: dict[str, Any], optional: bool) -> str | None:
    """None when `model` with `config` is usable; the reason when an optional one is not.
    Raises ConfigError for a bad config or a missing non-optional family."""
    from pairlm.models.registry import get_family

    if not isinstance(config, dict):
        raise ConfigError(f"{where}: `config` must be a table")
    try:
        cls = get_family(model)
    except KeyError as e:
        if optional:
            return f"model family {model!r} is not registered in this pairlm"
        raise ConfigError(f"{where}: {e.args[0]}") from e
    except ImportError as e:
        if optional:
            return str(e)
        raise ConfigError(f"{where}: {e}") from e
    try:
        cls.config_cls.from_dict(dict(config))
    except (ConfigError, TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e
    return None


def parse_experiment(data: dict[str, Any], source: Path | None = None) -> Experiment:
    """Validate an experiment table; errors name the file and the key."""
    from pairlm.models.registry import available

    where = str(source) if source else "experiment"
    _unknown(where, data, _TOP_KEYS)
    exp = data.get("experiment", {})
    if not isinstance(exp, dict):
        raise ConfigError(f"{where}: [experiment] must be a table")
    _unknown(f"{where} [experiment]", exp, {"name", "description", "backend", "address"})
    backend, address = _backend_keys(where, exp)
    dat = data.get("data")
    if not isinstance(dat, dict) or "dataset" not in dat:
        raise ConfigError(f"{where}: [data] with a `dataset` key is required")
    _unknown(f"{where} [data]", dat, _DATA_KEYS)
    dataset = _resolve_path(str(dat["dataset"]), source)
    policy = str(dat.get("policy", "skip"))
    if policy not in ("skip", "error"):
        raise ConfigError(f"{where} [data]: `policy` must be 'skip' or 'error', got {policy!r}")
    proto_tab = data.get("protocol", {})
    proto_fields = {f.name for f in dataclasses.fields(Protocol)}
    _unknown(f"{where} [protocol]", proto_tab, proto_fields)
    try:
        protocol = Protocol(**proto_tab)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where} [protocol]: {e}") from e
    runs_tab = data.get("runs", [])
    trans_tab = data.get("transfer", [])
    if not isinstance(runs_tab, list) or not isinstance(trans_tab, list):
        raise ConfigError(f"{where}: `runs` and `transfer` must be arrays of tables ([[runs]])")
    if not runs_tab and not trans_tab:
        raise ConfigError(f"{where}: at least one [[runs]] (or [[transfer]]) table is required")
    runs: list[RunSpec] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, r in enumerate(runs_tab):
        rw = f"{where} [[runs]] #{i + 1}"
        if not isinstance(r, dict):
            raise ConfigError(f"{rw}: must be a table")
        _unknown(rw, r, _RUN_KEYS)
        if "model" not in r:
            raise ConfigError(f"{rw}: `model` is required (one of {', '.join(available())})")
        name = str(r.get("name", r["model"]))
        if name in seen:
            raise ConfigError(f"{rw}: run name {name!r} is used twice")
        seen.add(name)
        optional = _opt_bool(rw, r, "optional")
        config = r.get("config", {})
        why = _check_family(f"{rw} ({name})", str(r["model"]), config, optional)
        spec = RunSpec(
            name=name,
            model=str(r["model"]),
            config=dict(config),
            max_train=_opt_int(rw, r, "max_train"),
            max_test=_opt_int(rw, r, "max_test"),
            description=str(r.get("description", "")),
            subsample=_opt_int(rw, r, "subsample"),
            optional=optional,
            memory_gb=_opt_float(rw, r, "memory_gb"),
        )
        if why is not None:
            log.warning("%s: optional run %r skipped: %s", where, name, why)
            skipped.append((name, why))
            continue
        runs.append(spec)
    by_name = {r.name: r for r in runs}
    transfers: list[TransferSpec] = []
    for i, t in enumerate(trans_tab):
        tw = f"{where} [[transfer]] #{i + 1}"
        if not isinstance(t, dict):
            raise ConfigError(f"{tw}: must be a table")
        _unknown(tw, t, _TRANSFER_KEYS)
        optional = _opt_bool(tw, t, "optional")
        base: RunSpec | None = None
        if "run" in t:
            if "model" in t or "config" in t:
                raise ConfigError(f"{tw}: give either `run` or `model` (+ `config`), not both")
            rname = str(t["run"])
            base = by_name.get(rname)
            if base is None:
                if any(rname == s[0] for s in skipped):
                    skipped.append((str(t.get("name", rname)), f"its run {rname!r} is skipped"))
                    continue
                raise ConfigError(
                    f"{tw}: `run` = {rname!r} names no [[runs]] entry; runs: "
                    f"{', '.join(by_name) or '(none)'}"
                )
            model, config = base.model, dict(base.config)
        elif "model" in t:
            model, config = str(t["model"]), t.get("config", {})
        else:
            raise ConfigError(f"{tw}: `run` (a [[runs]] name) or `model` is required")
        name = str(t.get("name", base.name if base else model))
        why = _check_family(f"{tw} ({name})", model, config, optional)
        if why is not None:
            log.warning("%s: optional transfer %r skipped: %s", where, name, why)
            skipped.append((name, why))
            continue
        raw_targets = t.get("targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            raise ConfigError(f"{tw} ({name}): `targets` must be a non-empty list of datasets")
        targets: list[TargetSpec] = []
        for j, x in enumerate(raw_targets):
            xw = f"{tw} ({name}) targets[{j}]"
            if isinstance(x, str):
                x = {"dataset": x}
            if not isinstance(x, dict) or "dataset" not in x:
                raise ConfigError(f"{xw}: a dataset name/path or a table with `dataset`")
            _unknown(xw, x, _TARGET_KEYS)
            ds = _resolve_path(str(x["dataset"]), source)
            tname = str(x.get("name", x["dataset"])).rstrip("/").split("/")[-1]
            targets.append(
                TargetSpec(ds, str(x.get("format", "auto")), str(x.get("policy", "skip")), tname)
            )
        spec_t = TransferSpec(
            name=name,
            model=model,
            config=dict(config),
            targets=targets,
            max_train=_opt_int(tw, t, "max_train") or (base.max_train if base else None),
            max_test=_opt_int(tw, t, "max_test"),
            optional=optional,
            memory_gb=_opt_float(tw, t, "memory_gb") or (base.memory_gb if base else None),
            description=str(t.get("description", "")),
        )
        for rn in (spec_t.run_name(x) for x in targets):
            if rn in seen:
                raise ConfigError(f"{tw}: run name {rn!r} is used twice")
        tnames = [x.name for x in targets]
        if len(set(tnames)) != len(tnames):
            raise ConfigError(f"{tw} ({name}): two targets share a name; give them `name`s")
        if any(spec_t.name == o.name for o in transfers):
            raise ConfigError(f"{tw}: transfer name {name!r} is used twice")
        seen.update(spec_t.run_name(x) for x in targets)
        transfers.append(spec_t)
    if not runs and not transfers:
        raise ConfigError(
            f"{where}: every run is optional and unavailable: "
            + "; ".join(f"{n} ({w})" for n, w in skipped)
        )
    return Experiment(
        name=str(exp.get("name", source.stem if source else "experiment")),
        description=str(exp.get("description", "")),
        dataset=dataset,
        data_format=str(dat.get("format", "auto")),
        policy=policy,
        protocol=protocol,
        runs=runs,
        source=source,
        transfers=transfers,
        skipped=skipped,
        dataset_name=str(dat.get("name", dataset)),
        read_options=_read_options(where, dat),
        backend=backend,
        address=address,
        check=parse_check(where, data.get("check"), [r.name for r in runs], protocol.folds),
    )


def _backend_keys(where: str, exp: dict[str, Any]) -> tuple[str, str | None]:
    """[experiment] `backend` ("local" or "ray") and `address` (a Ray cluster's)."""
    from pairlm.experiments.ray_backend import BACKENDS

    backend = exp.get("backend", "local")
    if backend not in BACKENDS:
        raise ConfigError(
            f"{where} [experiment]: `backend` must be one of {', '.join(BACKENDS)}, got {backend!r}"
        )
    address = exp.get("address")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigError(f"{where} [experiment]: `address` must be a non-empty string")
    return str(backend), address


def _read_options(where: str, dat: dict[str, Any]) -> dict[str, Any]:
    """Reader options of [data]: `columns` (a table FIELD = "column"), `keep_self_pairs`,
    `keep_duplicates` (`pairlm.data.readers.reader_options`)."""
    from pairlm.data.readers import reader_options
    from pairlm.data.validation import DataError

    cols = dat.get("columns")
    if cols is not None and not isinstance(cols, dict):
        raise ConfigError(f'{where} [data]: `columns` must be a table FIELD = "column"')
    keep = {k: dat.get(k, False) for k in ("keep_self_pairs", "keep_duplicates")}
    for key, v in keep.items():
        if not isinstance(v, bool):
            raise ConfigError(f"{where} [data]: `{key}` must be true or false, got {v!r}")
    try:
        return reader_options(cols, **keep)
    except DataError as e:
        raise ConfigError(f"{where} [data]: {e}") from None


def load_experiment(path: Path) -> Experiment:
    """Read and validate an experiment file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return parse_experiment(data, path)


# ====================================================================== jobs
@dataclass
class _Job:
    """One unit of work for a worker: a whole run (all its folds), or a whole transfer."""

    kind: str  # "cv" | "transfer"
    name: str
    spec: RunSpec | TransferSpec
    cells: list[tuple[str, int]]  # (run name, fold) still to do
    memory_gb: float


def _memory_of(spec: RunSpec | TransferSpec) -> float:
    from pairlm.models import registry

    return spec.memory_gb or registry.info(spec.model).memory_gb


def available_memory_gb() -> float:
    """MemAvailable from /proc/meminfo (GiB); inf where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return math.inf


def _load(dataset: str, fmt: str, policy: str, **read_options: Any) -> Any:
    from pairlm.data import load_dataset

    return load_dataset(dataset, fmt=fmt, policy=policy, **read_options)


def _store_pairs(store: Any, prepared: Any) -> None:
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
        _store_pairs(store, tprep)
        run = store.get_or_create_run(
            spec.run_name(tspec),
            spec.model,
            spec.config,
            tprep.name,
            tprep.split_key,
            protocol.to_dict(),
            [*caveats, f"transfer: trained on {source_name}, scored on {tprep.name}"],
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

    train, valid, _, _ = fold_data(src, fold, protocol)
    model = create(spec.model, spec.config)
    t0 = time.perf_counter()
    model.fit(train, valid)
    return _FittedFold(fold, model, train, valid, time.perf_counter() - t0)


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


def _execute(
    job: _Job,
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    folds: list[int] | None,
    on_fold: Callable[[str, int, int], None] | None,
) -> None:
    """Run one job in this process (the worker body, also used with one worker)."""
    from pairlm.evaluation.cv import cross_validate
    from pairlm.evaluation.store import ResultStore

    with ResultStore(out) as store:
        if job.kind == "cv":
            spec = job.spec
            assert isinstance(spec, RunSpec)
            cross_validate(
                data["source"],
                spec.model,
                spec.config,
                store=store,
                protocol=exp.protocol_for(spec),
                run_name=spec.name,
                dataset_name=exp.dataset_name,
                only_folds=folds,
                progress=False,
                on_fold=on_fold,
            )
        else:
            spec_t = job.spec
            assert isinstance(spec_t, TransferSpec)
            transfer_validate(
                data["source"],
                [(t, data["targets"][t.name]) for t in spec_t.targets],
                spec_t,
                store=store,
                protocol=exp.protocol_for(spec_t),
                target_protocol=exp.target_protocol(spec_t),
                source_name=exp.dataset_name,
                only_folds=folds,
                on_fold=on_fold,
            )


# ---------------------------------------------------------------------- worker processes
_EVENTS: Any = None


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:  # the runner died (e.g. SIGKILL): stop, don't linger
            os._exit(1)


def _worker_init(events: Any, families: dict[str, str], threads: int, level: int) -> None:
    global _EVENTS
    _EVENTS = events
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s [worker]: %(message)s")
    if level >= logging.WARNING:
        from pairlm.logs import quiet_libraries

        quiet_libraries()
    from pairlm.models import registry

    known = set(registry.available())
    for name, target in families.items():
        if name not in known:
            registry.register(name, target)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _worker_run(
    job: _Job, out: str, exp: Experiment, data: dict[str, Any], folds: list[int] | None
) -> str:
    def on_fold(run: str, fold: int, total: int) -> None:
        _EVENTS.put(("fold", run, fold))

    _EVENTS.put(("start", job.name, -1))
    _execute(job, Path(out), exp, data, folds, on_fold)
    return job.name


# ---------------------------------------------------------------------- progress view
class _GridProgress:
    """One rich progress view: a bar over all (run, fold) cells and one bar per run."""

    def __init__(
        self, jobs: list[_Job], wanted: dict[str, int], done: dict[str, int], enabled: bool
    ) -> None:
        self.enabled = enabled
        self.total = sum(wanted.values())
        self.done_cells = sum(done.values())
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._count = dict(done)
        self._wanted = dict(wanted)
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._all = self._progress.add_task(
            "[bold]all (run, fold)", total=self.total, completed=self.done_cells, status=""
        )
        for name in wanted:
            self._tasks[name] = self._progress.add_task(
                f"  {name}",
                total=wanted[name],
                completed=done.get(name, 0),
                status="done" if done.get(name, 0) >= wanted[name] else "waiting",
            )

    def __enter__(self) -> _GridProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, job: _Job) -> None:
        if self._progress is None:
            log.info("started %s", job.name)
            return
        for run, _ in job.cells:
            self._progress.update(self._tasks[run], status="running")

    def fold_done(self, run: str, fold: int) -> None:
        self.done_cells += 1
        self._count[run] = self._count.get(run, 0) + 1
        if self._progress is None:
            log.info("%s fold %d done (%d/%d cells)", run, fold, self.done_cells, self.total)
            return
        self._progress.advance(self._tasks[run])
        self._progress.advance(self._all)
        if self._count[run] >= self._wanted.get(run, 0):
            self._progress.update(self._tasks[run], status="done")

    def failed(self, job: _Job) -> None:
        if self._progress is not None:
            for run, _ in job.cells:
                self._progress.update(self._tasks[run], status="[red]failed")


# ---------------------------------------------------------------------- the runner
def plan(
    exp: Experiment, out: Path, only: list[str] | None = None, folds: list[int] | None = None
) -> tuple[list[_Job], dict[str, Any], dict[str, int], dict[str, int]]:
    """Load the data, record datasets, folds and pair texts in the store (in this process,
    before any worker starts), and list the jobs with the (run, fold) cells still to do.

    Returns (jobs, data, wanted cells per run, done cells per run)."""
    from pairlm.evaluation.cv import prepare
    from pairlm.evaluation.store import ResultStore

    source = _load(exp.dataset, exp.data_format, exp.policy, **exp.read_options)
    log.info("experiment %s: %d pairs from %s", exp.name, len(source), exp.dataset)
    data: dict[str, Any] = {"source": source, "targets": {}}
    selected_runs = [r for r in exp.runs if not only or r.name in only]
    selected_tr = [
        t
        for t in exp.transfers
        if not only or t.name in only or any(t.run_name(x) in only for x in t.targets)
    ]
    all_folds = list(range(exp.protocol.folds))
    fold_list = all_folds if folds is None else sorted(set(folds))
    bad = [f for f in fold_list if f not in all_folds]
    if bad:
        raise ConfigError(f"--fold-ids: fold(s) {bad} out of range 0..{exp.protocol.folds - 1}")
    jobs: list[_Job] = []
    wanted: dict[str, int] = {}
    done: dict[str, int] = {}
    with ResultStore(out) as store:
        for r in selected_runs:
            prep = prepare(store, source, exp.protocol_for(r), exp.dataset_name)
            _store_pairs(store, prep)
            info = store.get_run(r.name)
            finished = store.finished_folds(info.run_id) if info else set()
            cells = [(r.name, f) for f in fold_list if f not in finished]
            wanted[r.name] = len(fold_list)
            done[r.name] = len(fold_list) - len(cells)
            if cells:
                jobs.append(_Job("cv", r.name, r, cells, _memory_of(r)))
        for t in selected_tr:
            prepare(store, source, exp.protocol_for(t), exp.dataset_name)
            cells = []
            for x in t.targets:
                if x.name not in data["targets"]:
                    data["targets"][x.name] = _load(x.dataset, x.format, x.policy)
                tprep = prepare(store, data["targets"][x.name], exp.target_protocol(t), x.name)
                _store_pairs(store, tprep)
                rn = t.run_name(x)
                info = store.get_run(rn)
                finished = store.finished_folds(info.run_id) if info else set()
                mine = [(rn, f) for f in fold_list if f not in finished]
                wanted[rn] = len(fold_list)
                done[rn] = len(fold_list) - len(mine)
                cells += mine
            if cells:
                jobs.append(_Job("transfer", t.name, t, cells, _memory_of(t)))
    return jobs, data, wanted, done


def run_experiment(
    path: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    folds: list[int] | None = None,
    progress: bool | None = None,
    workers: int | None = None,
    memory_budget_gb: float | None = None,
    backend: str | None = None,
    address: str | None = None,
) -> Experiment:
    """Run every (run, fold) of an experiment not yet in `out`'s store.

    `workers` > 1 runs whole runs side by side in worker processes (each writing its folds to
    the same SQLite store), starting a run only while the sum of the runs' `memory_gb` stays
    within `memory_budget_gb` (default: 80% of the memory available now). Raises `RunFailed`
    after the other runs finish if some run raised.

    `backend` "ray" (default: the file's `[experiment] backend`, else "local") runs each
    (run, fold) as a Ray task instead, on the cluster at `address` (default: the file's, else
    a local Ray started here), at most `workers` at once (default: as resources allow); this
    process alone writes the store.
    """
    exp = load_experiment(Path(path))
    backend = backend or exp.backend
    address = address or exp.address
    if backend == "ray":
        from pairlm.experiments.ray_backend import require_ray

        require_ray()  # before any data is read
    elif backend != "local":
        raise ConfigError(f"--backend must be local or ray, got {backend!r}")
    elif address:
        raise ConfigError(f"--address {address}: an address is for --backend ray")
    if only:
        missing = sorted(set(only) - set(exp.names()))
        if missing:
            raise ConfigError(
                f"--only: no run named {', '.join(missing)} in {path}; runs: "
                f"{', '.join(exp.names())}"
            )
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    jobs, data, wanted, done = plan(exp, out, only, folds)
    if progress is None:
        progress = sys.stderr.isatty()
    budget = memory_budget_gb if memory_budget_gb is not None else 0.8 * available_memory_gb()
    failures: list[tuple[str, BaseException]] = []
    with _GridProgress(jobs, wanted, done, enabled=bool(progress)) as view:
        if backend == "ray":
            from pairlm.experiments.ray_backend import run_on_ray

            if jobs:
                failures = run_on_ray(jobs, out, exp, data, view, address=address, workers=workers)
        elif (workers or 1) == 1 or len(jobs) <= 1:
            for job in jobs:
                view.started(job)
                try:
                    _execute(
                        job,
                        out,
                        exp,
                        data,
                        folds,
                        lambda run, fold, total: view.fold_done(run, fold),
                    )
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as e:
                    log.error("run %s failed: %s", job.name, e, exc_info=True)
                    view.failed(job)
                    failures.append((job.name, e))
        else:
            failures = _run_parallel(jobs, out, exp, data, folds, workers or 1, budget, view)
    if exp.check is not None:
        from pairlm.experiments.checks import run_checks

        failed = {n for n, _ in failures}
        run_checks(
            exp,
            out,
            data["source"],
            [r.name for r in exp.runs if r.name not in failed and (not only or r.name in only)],
        )
    if exp.skipped:
        for name, why in exp.skipped:
            log.warning("skipped optional run %s: %s", name, why)
    if failures:
        raise RunFailed(
            "run(s) failed (finished folds are stored; fix and run again to resume): "
            + "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failures)
        )
    return exp


def _run_parallel(
    jobs: list[_Job],
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    folds: list[int] | None,
    workers: int,
    budget: float,
    view: _GridProgress,
) -> list[tuple[str, BaseException]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    from pairlm.models import registry

    ctx = mp.get_context("spawn")  # no fork after torch/BLAS threads started
    events = ctx.Queue()
    n = min(workers, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // n)
    level = logging.getLogger().getEffectiveLevel()
    pending = list(jobs)
    running: dict[Future[str], _Job] = {}
    failures: list[tuple[str, BaseException]] = []
    by_name = {j.name: j for j in jobs}
    ex = ProcessPoolExecutor(
        max_workers=n,
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(events, registry.targets(), threads, level),
    )

    def drain() -> None:
        while True:
            try:
                kind, name, fold = events.get_nowait()
            except queue_mod.Empty:
                return
            if kind == "start":
                view.started(by_name[name])
            else:
                view.fold_done(name, fold)

    try:
        while pending or running:
            used = sum(j.memory_gb for j in running.values())
            while pending and len(running) < n:
                job = pending[0]
                if running and used + job.memory_gb > budget:
                    break  # wait for memory to free up
                if not running and job.memory_gb > budget:
                    log.warning(
                        "run %s may need %.1f GiB, more than the %.1f GiB available",
                        job.name,
                        job.memory_gb,
                        budget,
                    )
                pending.pop(0)
                running[ex.submit(_worker_run, job, str(out), exp, data, folds)] = job
                used += job.memory_gb
            finished, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
            drain()
            for fut in finished:
                job = running.pop(fut)
                err = fut.exception()
                if err is not None:
                    log.error("run %s failed: %s", job.name, err)
                    view.failed(job)
                    failures.append((job.name, err))
        deadline = time.time() + 2.0  # late progress events from the workers' queue feeders
        while view.done_cells < view.total and time.time() < deadline and not failures:
            time.sleep(0.05)
            drain()
        drain()
    except BaseException:
        for p in list(getattr(ex, "_processes", {}).values()):
            p.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return failures
