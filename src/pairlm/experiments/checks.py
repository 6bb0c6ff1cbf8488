"""`[check]` in an experiment file: the behavioural suite (`pairlm.evaluation.behaviour`) on
each run's fold-0 model, written next to the store as ``DIR/behaviour/<run>.json``.

```toml
[check]
runs = ["lexical", "lexical-augmented"]   # default: every [[runs]] entry
n = 200                                   # cases per test
seed = 0
tolerance = 0.1                           # invariance tests: largest allowed score change
fold = 0                                  # the fold whose training part the model is fitted on
```

The model is fitted again on the fold's training part (the runner does not keep fold models;
the fit is deterministic in the fold and the config), then scored on the suite. A run whose
file already holds the same config, fold and suite settings is not checked again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairlm.configfile import check_fields, from_table, rule
from pairlm.errors import ConfigError

log = logging.getLogger(__name__)

CHECK_DIR = "behaviour"


@dataclass(frozen=True)
class CheckSpec:
    """`[check]`: the behavioural suite on each run's model fitted on one fold."""

    runs: tuple[str, ...] | None = field(default=None, metadata=rule("a list of run names"))
    """Names of the `[[runs]]` entries to check (None: every one)."""
    n: int = field(default=200, metadata=rule("at least 100 (cases per test)", lambda n: n >= 100))
    """Cases per test (at least 100; fewer only where a test cannot make that many)."""
    seed: int = 0
    """Seed of the generated cases: the same seed gives the same cases."""
    tolerance: float = field(
        default=0.1, metadata=rule("a number in [0, 1]", lambda t: 0 <= t <= 1)
    )
    """Invariance tests: the largest score change that is not a failure, in [0, 1]."""
    fold: int = 0
    """The fold whose training part the checked model is fitted on."""

    def __post_init__(self) -> None:
        check_fields(self)


def parse_check(where: str, tab: Any, run_names: list[str], folds: int) -> CheckSpec | None:
    """The `[check]` table (None when absent); errors name the file and the key. What
    depends on the rest of the file (run names, the fold count) is checked here."""
    if tab is None:
        return None
    spec = from_table(CheckSpec, tab, file=where, section="[check]")
    missing = sorted(set(spec.runs or ()) - set(run_names))
    if missing:
        raise ConfigError(
            f"`runs` names no [[runs]] entry {', '.join(missing)}; runs: {', '.join(run_names)}",
            file=where,
            section="[check]",
            key="runs",
        )
    if not 0 <= spec.fold < folds:
        raise ConfigError(
            f"`fold` must be in 0..{folds - 1}, got {spec.fold}",
            file=where,
            section="[check]",
            key="fold",
        )
    return spec


def check_path(out: Path, run: str) -> Path:
    return Path(out) / CHECK_DIR / f"{run}.json"


def run_checks(exp: Any, out: Path, source: Any, only: list[str] | None = None) -> list[Path]:
    """Check every run `exp.check` names (and `only`, where given, lists) not checked yet;
    returns the files written."""
    from pairlm.evaluation.behaviour import run_suite
    from pairlm.evaluation.cv import fold_data, prepare
    from pairlm.evaluation.store import ResultStore
    from pairlm.models.registry import create

    spec: CheckSpec = exp.check
    written = []
    for run in exp.runs:
        if spec.runs is not None and run.name not in spec.runs:
            continue
        if only is not None and run.name not in only:
            continue
        path = check_path(out, run.name)
        settings = {**asdict(spec), "runs": None}
        if path.is_file():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError):
                old = {}
            if old.get("config") == run.config and old.get("check") == settings:
                continue
        protocol = exp.protocol_for(run)
        with ResultStore(out) as store:
            prepared = prepare(store, source, protocol, exp.dataset_name)
        train, valid, _, _ = fold_data(prepared, spec.fold, protocol)
        log.info("check %s: fitting fold %d (%d training pairs)", run.name, spec.fold, len(train))
        model = create(run.model, run.config).fit(train, valid)
        fit_s = model.fit_seconds_
        report = run_suite(model, n=spec.n, seed=spec.seed, tolerance=spec.tolerance)
        doc = {
            "run": run.name,
            "family": run.model,
            "config": run.config,
            "check": settings,
            "fold": spec.fold,
            "n_train": len(train),
            "fit_seconds": round(fit_s, 2),
            "augmented": getattr(model, "augmented_", None),
            **report.to_dict(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        s = report.summary()
        log.warning(
            "check %s: mean failure rate mft %.3f, inv %.3f, dir %.3f -> %s",
            run.name,
            s["mft_mean_failure_rate"],
            s["inv_mean_failure_rate"],
            s["dir_mean_failure_rate"],
            path,
        )
        written.append(path)
    return written
