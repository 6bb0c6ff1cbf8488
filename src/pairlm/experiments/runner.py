"""Experiment files (TOML) and their runner: every run on the same folds, resumable.

```toml
[experiment]
name = "quickstart"
description = "..."

[data]
dataset = "qqp"          # a registered name (`pairlm data list`) or a path (relative to this file)
format = "auto"

[protocol]               # pairlm.evaluation.cv.Protocol
folds = 5
strategy = "stratified"  # or "grouped"
seed = 0
subsample = 4000

[[runs]]
name = "lexical"
model = "lexical"        # a registered family
max_train = 2000         # optional per-run protocol overrides: max_train, max_test
[runs.config]            # the family's config keys
C = 1.0
```
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairlm.evaluation.cv import Protocol
from pairlm.models.base import ConfigError

log = logging.getLogger(__name__)

_TOP_KEYS = {"experiment", "data", "protocol", "runs"}
_DATA_KEYS = {"dataset", "format", "policy", "name"}
_RUN_KEYS = {"name", "model", "config", "max_train", "max_test", "description"}
_PER_RUN_PROTOCOL = ("max_train", "max_test")


@dataclass
class RunSpec:
    name: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    max_train: int | None = None
    max_test: int | None = None
    description: str = ""


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

    def protocol_for(self, run: RunSpec) -> Protocol:
        changes = {k: getattr(run, k) for k in _PER_RUN_PROTOCOL if getattr(run, k) is not None}
        return dataclasses.replace(self.protocol, **changes) if changes else self.protocol


def _unknown(where: str, got: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        )


def parse_experiment(data: dict[str, Any], source: Path | None = None) -> Experiment:
    """Validate an experiment table; errors name the file and the key."""
    from pairlm.models.registry import available, get_family

    where = str(source) if source else "experiment"
    _unknown(where, data, _TOP_KEYS)
    exp = data.get("experiment", {})
    dat = data.get("data")
    if not isinstance(dat, dict) or "dataset" not in dat:
        raise ConfigError(f"{where}: [data] with a `dataset` key is required")
    _unknown(f"{where} [data]", dat, _DATA_KEYS)
    dataset = str(dat["dataset"])
    if source is not None and (
        "/" in dataset or dataset.endswith((".tsv", ".csv", ".txt", ".jsonl", ".parquet"))
    ):
        p = Path(dataset)
        if not p.is_absolute():
            dataset = str((source.parent / p).resolve())
    proto_tab = data.get("protocol", {})
    proto_fields = {f.name for f in dataclasses.fields(Protocol)}
    _unknown(f"{where} [protocol]", proto_tab, proto_fields)
    try:
        protocol = Protocol(**proto_tab)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where} [protocol]: {e}") from e
    runs_tab = data.get("runs")
    if not isinstance(runs_tab, list) or not runs_tab:
        raise ConfigError(f"{where}: at least one [[runs]] table is required")
    runs: list[RunSpec] = []
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
        try:
            cls = get_family(str(r["model"]))
            cls.config_cls.from_dict(dict(r.get("config", {})))
        except (KeyError, ConfigError, TypeError) as e:
            msg = e.args[0] if isinstance(e, KeyError) else e
            raise ConfigError(f"{rw} ({name}): {msg}") from e
        runs.append(
            RunSpec(
                name=name,
                model=str(r["model"]),
                config=dict(r.get("config", {})),
                max_train=r.get("max_train"),
                max_test=r.get("max_test"),
                description=str(r.get("description", "")),
            )
        )
    return Experiment(
        name=str(exp.get("name", source.stem if source else "experiment")),
        description=str(exp.get("description", "")),
        dataset=dataset,
        data_format=str(dat.get("format", "auto")),
        policy=str(dat.get("policy", "skip")),
        protocol=protocol,
        runs=runs,
        source=source,
    )


def load_experiment(path: Path) -> Experiment:
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return parse_experiment(data, path)


def run_experiment(
    path: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    folds: list[int] | None = None,
    progress: bool | None = None,
) -> Experiment:
    """Run every (run, fold) of an experiment not yet in `out`'s store."""
    from pairlm.data import load_dataset
    from pairlm.evaluation.cv import cross_validate
    from pairlm.experiments.store import ResultStore

    exp = load_experiment(path)
    names = [r.name for r in exp.runs]
    if only:
        missing = sorted(set(only) - set(names))
        if missing:
            raise ConfigError(
                f"--only: no run named {', '.join(missing)} in {path}; runs: {', '.join(names)}"
            )
    ds = load_dataset(exp.dataset, fmt=exp.data_format, policy=exp.policy)
    log.info("experiment %s: %d pairs, %d runs", exp.name, len(ds), len(exp.runs))
    with ResultStore(out) as store:
        for run in exp.runs:
            if only and run.name not in only:
                continue
            cross_validate(
                ds,
                run.model,
                run.config,
                store=store,
                protocol=exp.protocol_for(run),
                run_name=run.name,
                dataset_name=exp.dataset,
                only_folds=folds,
                progress=progress,
            )
    return exp
