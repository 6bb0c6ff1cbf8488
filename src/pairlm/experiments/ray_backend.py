"""The experiment grid on Ray: every (run, fold) cell is one Ray task.

The driver (the `pairlm run` process) keeps everything the local pool keeps: it loads the
data, cuts the folds and opens the runs in the store (so a run with another config is refused
exactly as with the local pool), then submits one task per unfinished (run, fold) cell. A task
trains and scores its fold and hands the fold's metrics and predictions back; the driver alone
writes them to `DIR/results.sqlite`, one transaction per fold. A worker that dies (killed, out
of memory, a lost node) costs only its fold, which Ray runs again (`RETRIES` times); a killed
driver leaves every finished fold in the store and the next `pairlm run` starts at the first
unfinished one.

Resources per task, from the run: `num_cpus` (the threads its fold may use), `num_gpus` = 1
when the family's config says `device = "cuda"` (or `"auto"` on a cluster with GPUs), and
`memory` = the run's `memory_gb` (else the family's estimate in the registry).

Ray is imported inside functions only: `import pairlm` never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairlm.models.base import ConfigError
from pairlm.models.ray_scoring import MISSING, ray_session, require_ray, set_threads

__all__ = ["BACKENDS", "MISSING", "RETRIES", "ray_session", "require_ray", "run_on_ray"]

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray")
RETRIES = 3
"""How many times Ray runs a fold again whose worker died (system failures only: an
exception raised by the model is the run's failure, as with the local pool)."""


# ---------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Resources:
    num_cpus: float
    num_gpus: float
    memory: int  # bytes


def wants_gpu(model: str, config: dict[str, Any], cluster_gpus: float) -> bool:
    """One GPU for a run whose config's `device` is cuda (or "auto" where the cluster has
    GPUs); none for families without a device."""
    from pairlm.models.registry import get_family

    cfg = get_family(model).config_cls.from_dict(dict(config))
    device = str(getattr(cfg, "device", "cpu") or "cpu").lower()
    return device.startswith("cuda") or (device == "auto" and cluster_gpus > 0)


def _cluster(ray: Any) -> tuple[float, float, float, float]:
    """(CPUs in all, most CPUs on one node, GPUs in all, most memory on one node in bytes)."""
    total = ray.cluster_resources()
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    max_cpu = max((float(n.get("CPU", 0)) for n in nodes), default=float(total.get("CPU", 1)))
    max_mem = max((float(n.get("memory", 0)) for n in nodes), default=math.inf) or math.inf
    return float(total.get("CPU", 1)), max_cpu, float(total.get("GPU", 0)), max_mem


# ---------------------------------------------------------------------- the task body
def _run_cell(
    kind: str,
    spec: Any,
    prepared: Any,
    targets: list[tuple[str, Any]],
    fold: int,
    protocol: Any,
    target_protocol: Any,
    families: dict[str, str],
    threads: int,
    level: int,
) -> list[tuple[str, Any]]:
    """Train and score one fold in a Ray worker: [(run name, FoldOutput)] (one for a cv run,
    one per target still missing this fold for a transfer run). Writes nothing."""
    set_threads(threads, level, families)
    if kind == "cv":
        from pairlm.evaluation.cv import run_fold

        return [(spec.name, run_fold(prepared, spec.model, spec.config, fold, protocol))]
    import ray

    from pairlm.experiments.transfer import fit_transfer_fold, score_transfer_target

    # refs nested in a list reach the task unresolved: fetch the targets' data here
    tpreps = ray.get([ref for _, ref in targets])
    fitted = fit_transfer_fold(prepared, spec, fold, protocol)
    return [
        (rn, score_transfer_target(fitted, tp, target_protocol))
        for (rn, _), tp in zip(targets, tpreps)
    ]


# ---------------------------------------------------------------------- the driver
@dataclass
class _Cell:
    job: Any
    fold: int
    runs: list[str]  # the run names this cell stores (a transfer: one per target)


def run_on_ray(
    jobs: list[Any],
    out: Path,
    exp: Any,
    data: dict[str, Any],
    view: Any,
    *,
    address: str | None = None,
    workers: int | None = None,
) -> list[tuple[str, BaseException]]:
    """Run the jobs' (run, fold) cells as Ray tasks, `workers` at most at once (default: as
    many as the cluster's resources allow); store each fold as it arrives. Returns the
    failed jobs, like the local pool: (job name, error)."""
    with ray_session(address) as ray:
        return _drive(ray, jobs, Path(out), exp, data, view, workers)


def _drive(
    ray: Any,
    jobs: list[Any],
    out: Path,
    exp: Any,
    data: dict[str, Any],
    view: Any,
    workers: int | None,
) -> list[tuple[str, BaseException]]:
    from pairlm.evaluation.cv import open_run, save_fold_output
    from pairlm.evaluation.store import ResultStore, StoreError
    from pairlm.experiments.transfer import open_transfer
    from pairlm.models import registry

    failures: list[tuple[str, BaseException]] = []
    failed: set[str] = set()
    total_cpu, max_cpu, gpus, max_mem = _cluster(ray)
    n_cells = sum(len({f for _, f in j.cells}) for j in jobs)
    concurrency = max(1, min(workers or n_cells, n_cells))
    threads = max(1, min(int(max_cpu), int(total_cpu // concurrency)))
    level = logging.getLogger().getEffectiveLevel()
    families = registry.targets()
    remote = ray.remote(_run_cell)
    refs: dict[str, Any] = {}  # split key -> object ref of the PreparedData
    runs: dict[str, Any] = {}  # run name -> RunInfo
    pending: list[tuple[_Cell, Any]] = []  # (cell, bound submit thunk)

    def put(prepared: Any) -> Any:
        if prepared.split_key not in refs:
            refs[prepared.split_key] = ray.put(prepared)
        return refs[prepared.split_key]

    with ResultStore(out) as store:
        for job in jobs:
            spec = job.spec
            protocol = exp.protocol_for(spec)
            try:
                gpu = wants_gpu(spec.model, spec.config, gpus)
                if gpu and gpus < 1:
                    raise ConfigError(
                        f"run {job.name}: its config asks for device 'cuda' but the Ray "
                        "cluster has no GPU"
                    )
                mem = job.memory_gb * 2**30
                if mem > max_mem:
                    log.warning(
                        "run %s may need %.1f GiB, more than the largest Ray node offers "
                        "(%.1f GiB); asking for that",
                        job.name,
                        job.memory_gb,
                        max_mem / 2**30,
                    )
                    mem = max_mem
                res = Resources(threads, 1 if gpu else 0, int(mem))
                if job.kind == "cv":
                    run, prepared = open_run(
                        store,
                        data["source"],
                        spec.model,
                        spec.config,
                        protocol,
                        spec.name,
                        exp.dataset_name,
                    )
                    runs[run.name] = run
                    ref = put(prepared)
                    for _, fold in job.cells:
                        pending.append(
                            (
                                _Cell(job, fold, [run.name]),
                                (res, "cv", ref, [], fold, protocol, None),
                            )
                        )
                else:
                    tproto = exp.target_protocol(spec)
                    src, tr = open_transfer(
                        store,
                        data["source"],
                        [(t, data["targets"][t.name]) for t in spec.targets],
                        spec,
                        protocol,
                        tproto,
                        exp.dataset_name,
                    )
                    preps = {run.name: tp for run, tp in tr}
                    runs.update({run.name: run for run, _ in tr})
                    ref = put(src)
                    by_fold: dict[int, list[str]] = {}
                    for rn, fold in job.cells:
                        by_fold.setdefault(fold, []).append(rn)
                    for fold in sorted(by_fold):
                        targets = [(rn, put(preps[rn])) for rn in by_fold[fold]]
                        pending.append(
                            (
                                _Cell(job, fold, by_fold[fold]),
                                (res, "transfer", ref, targets, fold, protocol, tproto),
                            )
                        )
            except (ConfigError, StoreError, ValueError) as e:
                log.error("run %s failed: %s", job.name, e)
                view.failed(job)
                failures.append((job.name, e))
                failed.add(job.name)

        def submit(cell: _Cell, args: tuple[Any, ...]) -> Any:
            res, kind, ref, targets, fold, protocol, tproto = args
            # `ref` (top level) reaches the task resolved; the targets' refs are fetched there
            return remote.options(
                num_cpus=res.num_cpus,
                num_gpus=res.num_gpus,
                memory=res.memory or None,
                max_retries=RETRIES,
                retry_exceptions=False,
                name=f"pairlm:{cell.job.name}:fold{fold}",
            ).remote(
                kind,
                cell.job.spec,
                ref,
                targets,
                fold,
                protocol,
                tproto,
                families,
                res.num_cpus,
                level,
            )

        inflight: dict[Any, _Cell] = {}
        started: set[str] = set()
        try:
            while pending or inflight:
                while pending and len(inflight) < concurrency:
                    cell, args = pending.pop(0)
                    if cell.job.name in failed:
                        continue
                    if cell.job.name not in started:
                        started.add(cell.job.name)
                        view.started(cell.job)
                    inflight[submit(cell, args)] = cell
                if not inflight:
                    continue
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25)
                for ref in ready:
                    cell = inflight.pop(ref)
                    try:
                        outputs = ray.get(ref)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as e:
                        err = _cause(e)
                        log.error("run %s fold %d failed: %s", cell.job.name, cell.fold, err)
                        if cell.job.name not in failed:
                            failed.add(cell.job.name)
                            view.failed(cell.job)
                            failures.append((cell.job.name, err))
                        continue
                    for rn, fold_out in outputs:
                        save_fold_output(store, runs[rn], fold_out)
                        view.fold_done(rn, cell.fold)
        except BaseException:
            for ref in inflight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
    return failures


def _cause(e: BaseException) -> BaseException:
    """The model's own exception out of a RayTaskError, else the Ray error itself."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def describe_cluster(ray: Any) -> str:
    total = ray.cluster_resources()
    return (
        f"{len([n for n in ray.nodes() if n.get('Alive')])} node(s), "
        f"{total.get('CPU', 0):g} CPU, {total.get('GPU', 0):g} GPU"
    )
