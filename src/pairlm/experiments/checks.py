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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pairlm.errors import ConfigError

log = logging.getLogger(__name__)

CHECK_DIR = "behaviour"


@dataclass(frozen=True)
class CheckSpec:
    """`[check]`: the behavioural suite on each run's model fitted on one fold."""

    runs: tuple[str, ...] | None = None
    """Names of the `[[runs]]` entries to check (None: every one)."""
    n: int = 200
    """Cases per test (at least 100; fewer only where a test cannot make that many)."""
    seed: int = 0
    """Seed of the generated cases: the same seed gives the same cases."""
    tolerance: float = 0.1
    """Invariance tests: the largest score change that is not a failure, in [0, 1]."""
    fold: int = 0
    """The fold whose training part the checked model is fitted on."""


_CHECK_KEYS = {f.name for f in fields(CheckSpec)}


def parse_check(where: str, tab: Any, run_names: list[str], folds: int) -> CheckSpec | None:
    """The `[check]` table (None when absent); errors name the file and the key."""
    if tab is None:
        return None
    w = f"{where} [check]"
    if not isinstance(tab, dict):
        raise ConfigError(f"{w}: must be a table")
    unknown = sorted(set(tab) - _CHECK_KEYS)
    if unknown:
        raise ConfigError(
            f"{w}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_CHECK_KEYS))}"
        )
    runs = tab.get("runs")
    if runs is not None:
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
            raise ConfigError(f"{w}: `runs` must be a list of run names")
        missing = sorted(set(runs) - set(run_names))
        if missing:
            raise ConfigError(
                f"{w}: `runs` names no [[runs]] entry {', '.join(missing)}; runs: "
                f"{', '.join(run_names)}"
            )
    for key in ("n", "seed", "fold"):
        v = tab.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError(f"{w}: `{key}` must be an integer, got {v!r}")
    spec = CheckSpec(
        runs=tuple(runs) if runs is not None else None,
        n=int(tab.get("n", 200)),
        seed=int(tab.get("seed", 0)),
        tolerance=tab.get("tolerance", 0.1),
        fold=int(tab.get("fold", 0)),
    )
    if spec.n < 100:
        raise ConfigError(f"{w}: `n` must be at least 100 (cases per test), got {spec.n}")
    tol = spec.tolerance
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol <= 1:
        raise ConfigError(f"{w}: `tolerance` must be a number in [0, 1], got {tol!r}")
    if not 0 <= spec.fold < folds:
        raise ConfigError(f"{w}: `fold` must be in 0..{folds - 1}, got {spec.fold}")
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
