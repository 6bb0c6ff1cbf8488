"""The experiment runner: every run of an experiment file on the same folds, resumable
(each finished fold is stored; a rerun starts at the first unfinished one), several runs at
once in worker processes when memory allows (`pool`), or every (run, fold) as a Ray task
(`ray_backend`), with one progress view over the grid (`progress_view`). The file's keys are
in `spec`; a run or a transfer is a job (`jobs`); transfer runs in `transfer`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from pairlm.errors import RunFailed
from pairlm.experiments.jobs import CvJob, Job, TransferJob, memory_of, run_job
from pairlm.experiments.pool import available_memory_gb, run_parallel
from pairlm.experiments.progress_view import GridProgress
from pairlm.experiments.spec import (
    Experiment,
    RunSpec,
    TargetSpec,
    TransferSpec,
    load_experiment,
    parse_experiment,
)
from pairlm.experiments.transfer import (
    fit_transfer_fold,
    load_source,
    open_transfer,
    score_transfer_target,
    store_pairs,
    transfer_validate,
)
from pairlm.models.base import ConfigError

__all__ = [
    "Experiment",
    "RunFailed",
    "RunSpec",
    "TargetSpec",
    "TransferSpec",
    "fit_transfer_fold",
    "load_experiment",
    "load_source",
    "open_transfer",
    "parse_experiment",
    "plan",
    "run_experiment",
    "score_transfer_target",
    "transfer_validate",
]

log = logging.getLogger(__name__)


def plan(
    exp: Experiment, out: Path, only: list[str] | None = None, folds: list[int] | None = None
) -> tuple[list[Job], dict[str, Any], dict[str, int], dict[str, int]]:
    """Load the data, record datasets, folds and pair texts in the store (in this process,
    before any worker starts), and list the jobs with the (run, fold) cells still to do.

    Returns (jobs, data, wanted cells per run, done cells per run)."""
    from pairlm.evaluation.cv import prepare
    from pairlm.evaluation.store import ResultStore

    source = load_source(exp.dataset, exp.data_format, exp.policy, **exp.read_options)
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
    jobs: list[Job] = []
    wanted: dict[str, int] = {}
    done: dict[str, int] = {}
    with ResultStore(out) as store:
        for r in selected_runs:
            prep = prepare(store, source, exp.protocol_for(r), exp.dataset_name)
            store_pairs(store, prep)
            info = store.get_run(r.name)
            finished = store.finished_folds(info.run_id) if info else set()
            run_folds = r.folds_in(fold_list) or []
            cells = [(r.name, f) for f in run_folds if f not in finished]
            wanted[r.name] = len(run_folds)
            done[r.name] = len(run_folds) - len(cells)
            if cells:
                jobs.append(CvJob(r.name, r, cells, memory_of(r)))
        for t in selected_tr:
            prepare(store, source, exp.protocol_for(t), exp.dataset_name)
            cells = []
            for x in t.targets:
                if x.name not in data["targets"]:
                    data["targets"][x.name] = load_source(x.dataset, x.format, x.policy)
                tprep = prepare(store, data["targets"][x.name], exp.target_protocol(t), x.name)
                store_pairs(store, tprep)
                rn = t.run_name(x)
                info = store.get_run(rn)
                finished = store.finished_folds(info.run_id) if info else set()
                mine = [(rn, f) for f in fold_list if f not in finished]
                wanted[rn] = len(fold_list)
                done[rn] = len(fold_list) - len(mine)
                cells += mine
            if cells:
                jobs.append(TransferJob(t.name, t, cells, memory_of(t)))
    return jobs, data, wanted, done


def run_experiment(
    path: Path | Experiment,
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
    """Run every (run, fold) of an experiment (its file, or the file already loaded) not yet
    in `out`'s store.

    `workers` > 1 runs whole runs side by side in worker processes (each writing its folds to
    the same SQLite store), starting a run only while the sum of the runs' `memory_gb` stays
    within `memory_budget_gb` (default: 80% of the memory available now). Raises `RunFailed`
    after the other runs finish if some run raised.

    `backend` "ray" (default: the file's `[experiment] backend`, else "local") runs each
    (run, fold) as a Ray task instead, on the cluster at `address` (default: the file's, else
    a local Ray started here), at most `workers` at once (default: as resources allow); this
    process alone writes the store.
    """
    exp = path if isinstance(path, Experiment) else load_experiment(Path(path))
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
    with GridProgress(jobs, wanted, done, enabled=bool(progress)) as view:
        if backend == "ray":
            from pairlm.experiments.ray_backend import run_on_ray

            failures = (
                run_on_ray(jobs, out, exp, data, view, address=address, workers=workers)
                if jobs
                else []
            )
        elif (workers or 1) == 1 or len(jobs) <= 1:
            failures = _run_here(jobs, out, exp, data, folds, view)
        else:
            failures = run_parallel(jobs, out, exp, data, folds, workers or 1, budget, view)
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


def _run_here(
    jobs: list[Job],
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    folds: list[int] | None,
    view: GridProgress,
) -> list[tuple[str, BaseException]]:
    """Run the jobs one after the other in this process; a job that raises fails alone.
    Returns the failed jobs: (job name, error)."""
    failures: list[tuple[str, BaseException]] = []
    for job in jobs:
        view.started(job)
        try:
            run_job(job, out, exp, data, folds, lambda run, fold, total: view.fold_done(run, fold))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            log.error("run %s failed: %s", job.name, e, exc_info=True)
            view.failed(job)
            failures.append((job.name, e))
    return failures
