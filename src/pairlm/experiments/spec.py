"""Experiment files (TOML): the spec of every key, parsed into an `Experiment` of runs and
transfer runs (checked before any data is read; one-line `ConfigError`s naming the key).

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
fold_ids = [0, 1]        # optional: only these folds (a costly run; the report says 2/N folds)
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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairlm.configfile import check_fields, check_keys, from_table, rule
from pairlm.evaluation.cv import Protocol
from pairlm.experiments import sections
from pairlm.experiments.checks import parse_check
from pairlm.experiments.teachers import resolve_teacher
from pairlm.models.base import ConfigError

log = logging.getLogger(__name__)

_TOP_KEYS = {"experiment", "data", "protocol", "runs", "transfer", "check"}
_PER_RUN_PROTOCOL = ("max_train", "max_test", "subsample")


@dataclass
class RunSpec:
    """`[[runs]]`: one model family with one config, cross-validated on the experiment's folds."""

    name: str
    """The run's name in the store and the report (default: `model`); unique in the file."""
    model: str
    """A registered model family (`pairlm models`)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The family's config keys (`[runs.config]`; `pairlm models FAMILY` lists them)."""
    max_train: int | None = field(default=None, metadata=sections.AT_LEAST_10)
    """Per-fold stratified subsample of the training part (pairs, at least 10; None: all)."""
    max_test: int | None = field(default=None, metadata=sections.AT_LEAST_10)
    """Per-fold stratified subsample of the test part (pairs, at least 10; None: all)."""
    description: str = ""
    """What the run is, in a line, for readers of the file."""
    subsample: int | None = field(default=None, metadata=sections.AT_LEAST_10)
    """This run's own stratified subsample of the dataset before splitting (`[protocol]`'s)."""
    optional: bool = False
    """Skip with a warning, rather than fail, when the family is not registered or installed."""
    memory_gb: float | None = field(default=None, metadata=sections.POSITIVE)
    """Peak memory of one fold (GiB), for scheduling parallel workers (None: the family's
    estimate)."""
    fold_ids: list[int] | None = field(
        default=None, metadata=rule("a non-empty list of distinct fold numbers")
    )
    """Only these folds (a costly run on fewer folds; its report says k/N folds)."""
    teacher: str | None = field(default=None, metadata=rule("the name of a [[runs]] entry"))
    """With model "distill": the name of a run above this one whose family and config are
    the teacher, fitted in each fold on that fold's training part (`experiments.teachers`)."""

    def __post_init__(self) -> None:
        check_fields(self)

    def folds_in(self, folds: list[int] | None) -> list[int] | None:
        """The folds this run computes: those asked for (None: all) within its `fold_ids`."""
        if self.fold_ids is None:
            return folds
        return [f for f in self.fold_ids if folds is None or f in folds]


@dataclass
class TargetSpec:
    """A dataset a transfer run is scored on: an entry of `[[transfer]] targets`, a name or
    path, or a table with these keys."""

    dataset: str
    """A registered dataset name or a file path, relative to the experiment file."""
    format: str = "auto"
    """Reader format, as in `[data]`."""
    policy: str = "skip"
    """Bad rows: "skip" or "error", as in `[data]`."""
    name: str = ""
    """The target's name in the stored run names `<transfer>@<name>` (default: the last part
    of `dataset`)."""

    def __post_init__(self) -> None:
        check_fields(self)


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
    reference: str | None = None
    """`[experiment] reference`: the run the report compares every other run against (None:
    the run with the best mean F1); ignored while it has no finished fold."""

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


def _resolve_path(dataset: str, source: Path | None) -> str:
    if source is not None and (
        "/" in dataset or dataset.endswith((".tsv", ".csv", ".txt", ".jsonl", ".parquet"))
    ):
        p = Path(dataset)
        if not p.is_absolute():
            return str((source.parent / p).resolve())
    return dataset


def _fold_ids(where: str, tab: dict[str, Any], folds: int) -> list[int] | None:
    """A run's `fold_ids`: distinct fold numbers in 0..folds-1 (None: every fold); the
    range depends on `[protocol] folds`, so it is checked here, not by `RunSpec`."""
    v = tab.get("fold_ids")
    if v is None:
        return None
    if (
        not isinstance(v, list)
        or not v
        or any(isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < folds for f in v)
        or len(set(v)) != len(v)
    ):
        raise ConfigError(
            f"{where}: `fold_ids` must be a non-empty list of distinct fold numbers in "
            f"0..{folds - 1}, got {v!r}"
        )
    return sorted(v)


def _check_family(
    file: str, section: str, model: str, config: dict[str, Any], optional: bool
) -> str | None:
    """None when `model` with `config` is usable; the reason when an optional one is not.
    Raises ConfigError for a bad config or a missing non-optional family."""
    where = f"{file} {section}"
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
    except ConfigError as e:
        raise e.at(file, section) from None
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e), file=file, section=section) from e
    return None


def parse_experiment(data: dict[str, Any], source: Path | None = None) -> Experiment:
    """Validate an experiment table; errors name the file and the key."""
    where = str(source) if source else "experiment"
    check_keys(data, _TOP_KEYS, what="an experiment file", file=where)
    exp = from_table(
        sections.ExperimentTable, data.get("experiment", {}), file=where, section="[experiment]"
    )
    dat, dataset = _parse_data(where, data, source)
    protocol = from_table(Protocol, data.get("protocol", {}), file=where, section="[protocol]")
    runs_tab = data.get("runs", [])
    trans_tab = data.get("transfer", [])
    if not isinstance(runs_tab, list) or not isinstance(trans_tab, list):
        raise ConfigError(f"{where}: `runs` and `transfer` must be arrays of tables ([[runs]])")
    if not runs_tab and not trans_tab:
        raise ConfigError(f"{where}: at least one [[runs]] (or [[transfer]]) table is required")
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    runs = _parse_runs(where, runs_tab, protocol, skipped, seen)
    transfers = _parse_transfers(where, trans_tab, runs, source, skipped, seen)
    if not runs and not transfers:
        raise ConfigError(
            f"{where}: every run is optional and unavailable: "
            + "; ".join(f"{n} ({w})" for n, w in skipped)
        )
    return Experiment(
        name=exp.name or (source.stem if source else "experiment"),
        description=exp.description,
        dataset=dataset,
        data_format=dat.format,
        policy=dat.policy,
        protocol=protocol,
        runs=runs,
        source=source,
        transfers=transfers,
        skipped=skipped,
        dataset_name=dat.name or dataset,
        read_options=_read_options(where, dat),
        backend=exp.backend,
        address=exp.address,
        check=parse_check(where, data.get("check"), [r.name for r in runs], protocol.folds),
        reference=_reference(
            where, exp.reference, [r.name for r in runs] + [n for n, _ in skipped]
        ),
    )


def _parse_data(
    where: str, data: dict[str, Any], source: Path | None
) -> tuple[sections.DataTable, str]:
    """[data]: the table and the dataset (a name or a path resolved beside the file)."""
    dat = data.get("data")
    if not isinstance(dat, dict) or "dataset" not in dat:
        raise ConfigError(f"{where}: [data] with a `dataset` key is required")
    table = from_table(sections.DataTable, dat, file=where, section="[data]")
    return table, _resolve_path(table.dataset, source)


def _parse_runs(
    where: str,
    runs_tab: list[Any],
    protocol: Protocol,
    skipped: list[tuple[str, str]],
    seen: set[str],
) -> list[RunSpec]:
    """[[runs]]: each run checked against its family (an optional run whose family is not
    available is added to `skipped`); names collected in `seen`."""
    from pairlm.models.registry import available

    runs: list[RunSpec] = []
    for i, r in enumerate(runs_tab):
        rs = f"[[runs]] #{i + 1}"
        if not isinstance(r, dict) or "model" not in r:
            from_table(RunSpec, r, file=where, section=rs)  # refuses a non-table or a stray key
            raise ConfigError(
                f"`model` is required (one of {', '.join(available())})", file=where, section=rs
            )
        spec = from_table(RunSpec, {"name": r["model"], **r}, file=where, section=rs)
        spec.fold_ids = _fold_ids(f"{where} {rs}", r, protocol.folds)
        if spec.name in seen:
            raise ConfigError(f"run name {spec.name!r} is used twice", file=where, section=rs)
        seen.add(spec.name)
        rsn = f"{rs} ({spec.name})"
        config, why = resolve_teacher(f"{where} {rsn}", r, spec.config, runs, skipped)
        if config is not None:
            why = _check_family(where, rsn, spec.model, config, spec.optional)
        spec.config = dict(config or {})
        name = spec.name
        if why is not None:
            log.warning("%s: optional run %r skipped: %s", where, name, why)
            skipped.append((name, why))
            continue
        runs.append(spec)
    return runs


def _parse_transfers(
    where: str,
    trans_tab: list[Any],
    runs: list[RunSpec],
    source: Path | None,
    skipped: list[tuple[str, str]],
    seen: set[str],
) -> list[TransferSpec]:
    """[[transfer]]: each names a run (`run`) or a family (`model` + `config`) and its
    targets; their run names join `seen`."""
    by_name = {r.name: r for r in runs}
    transfers: list[TransferSpec] = []
    for i, t in enumerate(trans_tab):
        ts = f"[[transfer]] #{i + 1}"
        tw = f"{where} {ts}"
        tt = from_table(sections.TransferTable, t, file=where, section=ts)
        base: RunSpec | None = None
        if "run" in t:
            if "model" in t or "config" in t:
                raise ConfigError(f"{tw}: give either `run` or `model` (+ `config`), not both")
            rname = str(tt.run)
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
            model, config = str(tt.model), tt.config
        else:
            raise ConfigError(f"{tw}: `run` (a [[runs]] name) or `model` is required")
        name = tt.name or (base.name if base else model)
        why = _check_family(where, f"{ts} ({name})", model, config, tt.optional)
        if why is not None:
            log.warning("%s: optional transfer %r skipped: %s", where, name, why)
            skipped.append((name, why))
            continue
        targets = _parse_targets(where, f"{ts} ({name})", tt.targets, source)
        spec_t = TransferSpec(
            name=name,
            model=model,
            config=dict(config),
            targets=targets,
            max_train=tt.max_train or (base.max_train if base else None),
            max_test=tt.max_test,
            optional=tt.optional,
            memory_gb=tt.memory_gb or (base.memory_gb if base else None),
            description=tt.description,
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
    return transfers


def _parse_targets(
    where: str, ts: str, raw_targets: list[Any], source: Path | None
) -> list[TargetSpec]:
    """A [[transfer]]'s `targets`: dataset names/paths or tables with `dataset`."""
    tw = f"{where} {ts}"
    if not raw_targets:
        raise ConfigError(f"{tw}: `targets` must be a non-empty list of datasets")
    targets: list[TargetSpec] = []
    for j, x in enumerate(raw_targets):
        xw = f"{tw} targets[{j}]"
        if isinstance(x, str):
            x = {"dataset": x}
        if not isinstance(x, dict) or "dataset" not in x:
            raise ConfigError(f"{xw}: a dataset name/path or a table with `dataset`")
        x = from_table(TargetSpec, x, file=where, section=f"{ts} targets[{j}]")
        tname = (x.name or x.dataset).rstrip("/").split("/")[-1]
        targets.append(dataclasses.replace(x, dataset=_resolve_path(x.dataset, source), name=tname))
    return targets


def _reference(where: str, ref: str | None, names: list[str]) -> str | None:
    """[experiment] `reference`: the name of one of the experiment's runs, or absent."""
    if ref is not None and ref not in names:
        raise ConfigError(
            f"`reference` must name one of the runs ({', '.join(names)}), got {ref!r}",
            file=where,
            section="[experiment]",
            key="reference",
        )
    return ref


def _read_options(where: str, dat: sections.DataTable) -> dict[str, Any]:
    """Reader options of [data]: `columns` (a table FIELD = "column"), `keep_self_pairs`,
    `keep_duplicates` (`pairlm.data.readers.reader_options`)."""
    from pairlm.data.readers import reader_options
    from pairlm.data.validation import DataError

    keep = {"keep_self_pairs": dat.keep_self_pairs, "keep_duplicates": dat.keep_duplicates}
    try:
        return reader_options(dat.columns, **keep)
    except DataError as e:
        raise ConfigError(str(e), file=where, section="[data]") from None


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
