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
from typing import TYPE_CHECKING, Any

from pairlm.errors import StoreError
from pairlm.experiments.jobs import Job
from pairlm.experiments.sections import BACKENDS
from pairlm.experiments.spec import Experiment
from pairlm.models.base import ConfigError
from pairlm.models.ray_scoring import MISSING, ray_session, require_ray, set_threads

if TYPE_CHECKING:
    from pairlm.evaluation.cv import FoldOutput, PreparedData, Protocol
    from pairlm.evaluation.store import ResultStore, RunInfo
    from pairlm.experiments.progress_view import GridProgress

__all__ = ["BACKENDS", "MISSING", "RETRIES", "ray_session", "require_ray", "run_on_ray"]

log = logging.getLogger(__name__)

RETRIES = 3
"""How many times Ray runs a fold again whose worker died (system failures only: an
exception raised by the model is the run's failure, as with the local pool)."""

Ref = Any
"""A Ray object reference (`ray.ObjectRef`; Ray is not imported at module level)."""


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
    job: Job,
    prepared: PreparedData,
    targets: list[tuple[str, Ref]],
    fold: int,
    protocol: Protocol,
    target_protocol: Protocol | None,
    families: dict[str, str],
    threads: int,
    level: int,
) -> list[tuple[str, FoldOutput]]:
    """Train and score one fold in a Ray worker: [(run name, FoldOutput)] (one for a cv run,
    one per target still missing this fold for a transfer run). Writes nothing."""
    set_threads(threads, level, families)
    fetched: list[tuple[str, PreparedData]] = []
    if targets:
        import ray

        # refs nested in a list reach the task unresolved: fetch the targets' data here
        datas = ray.get([ref for _, ref in targets])
        fetched = [(rn, d) for (rn, _), d in zip(targets, datas)]
    return job.compute(prepared, fetched, fold, protocol, target_protocol)


# ---------------------------------------------------------------------- the driver
@dataclass
class _Cell:
    """One (run, fold) cell ready to submit, with everything its Ray task is given."""

    job: Job
    fold: int
    runs: list[str]  # the run names this cell stores (a transfer: one per target)
    resources: Resources
    source: Ref  # the source's PreparedData (top level: reaches the task resolved)
    targets: list[tuple[str, Ref]]  # (target run name, its PreparedData): fetched in the task
    protocol: Protocol
    target_protocol: Protocol | None


def run_on_ray(
    jobs: list[Job],
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    view: GridProgress,
    *,
    address: str | None = None,
    workers: int | None = None,
) -> list[tuple[str, BaseException]]:
    """Run the jobs' (run, fold) cells as Ray tasks, `workers` at most at once (default: as
    many as the cluster's resources allow); store each fold as it arrives. Returns the
    failed jobs, like the local pool: (job name, error)."""
    from pairlm.evaluation.store import ResultStore

    with ray_session(address) as ray, ResultStore(Path(out)) as store:
        driver = _Driver(ray, store, view, jobs, workers)
        for job in jobs:
            driver.open(job, exp, data)
        driver.run()
        return driver.failures


class _Driver:
    """The driver's side of a grid on Ray: opens every job's runs in the store (in this
    process, before any task starts), submits the cells `concurrency` at a time, and stores
    each fold as its task returns."""

    def __init__(
        self,
        ray: Any,
        store: ResultStore,
        view: GridProgress,
        jobs: list[Job],
        workers: int | None,
    ) -> None:
        from pairlm.models import registry

        self.ray = ray
        self.store = store
        self.view = view
        total_cpu, max_cpu, self.gpus, self.max_mem = _cluster(ray)
        n_cells = sum(len({f for _, f in j.cells}) for j in jobs)
        self.concurrency = max(1, min(workers or n_cells, n_cells))
        self.threads = max(1, min(int(max_cpu), int(total_cpu // self.concurrency)))
        self.level = logging.getLogger().getEffectiveLevel()
        self.families = registry.targets()
        self.remote = ray.remote(_run_cell)
        self.refs: dict[str, Ref] = {}  # split key -> object ref of the PreparedData
        self.runs: dict[str, RunInfo] = {}  # run name -> RunInfo
        self.pending: list[_Cell] = []
        self.failures: list[tuple[str, BaseException]] = []
        self.failed: set[str] = set()

    def _put(self, prepared: PreparedData) -> Ref:
        if prepared.split_key not in self.refs:
            self.refs[prepared.split_key] = self.ray.put(prepared)
        return self.refs[prepared.split_key]

    def _resources(self, job: Job) -> Resources:
        """What each of the job's tasks asks Ray for; ConfigError for a GPU the cluster lacks."""
        spec = job.spec
        gpu = wants_gpu(spec.model, spec.config, self.gpus)
        if gpu and self.gpus < 1:
            raise ConfigError(
                f"run {job.name}: its config asks for device 'cuda' but the Ray cluster has no GPU"
            )
        mem = job.memory_gb * 2**30
        if mem > self.max_mem:
            log.warning(
                "run %s may need %.1f GiB, more than the largest Ray node offers "
                "(%.1f GiB); asking for that",
                job.name,
                job.memory_gb,
                self.max_mem / 2**30,
            )
            mem = self.max_mem
        return Resources(self.threads, 1 if gpu else 0, int(mem))

    def _fail(self, job: Job, err: BaseException) -> None:
        if job.name not in self.failed:
            self.failed.add(job.name)
            self.view.failed(job)
            self.failures.append((job.name, err))

    def open(self, job: Job, exp: Experiment, data: dict[str, Any]) -> None:
        """Open the job's runs in the store and queue its cells; a job that cannot be
        opened (a bad config, a run stored with another config) fails alone."""
        protocol = exp.protocol_for(job.spec)
        try:
            res = self._resources(job)
            tproto = job.target_protocol(exp)
            opened = job.open(self.store, exp, data)
        except (ConfigError, StoreError, ValueError) as e:
            log.error("run %s failed: %s", job.name, e)
            self._fail(job, e)
            return
        self.runs.update(opened.runs)
        source = self._put(opened.source)
        for cell in opened.cells:
            targets = [(rn, self._put(tp)) for rn, tp in cell.targets]
            self.pending.append(
                _Cell(job, cell.fold, cell.runs, res, source, targets, protocol, tproto)
            )

    def _submit(self, cell: _Cell) -> Ref:
        res = cell.resources
        return self.remote.options(
            num_cpus=res.num_cpus,
            num_gpus=res.num_gpus,
            memory=res.memory or None,
            max_retries=RETRIES,
            retry_exceptions=False,
            name=f"pairlm:{cell.job.name}:fold{cell.fold}",
        ).remote(
            cell.job,
            cell.source,
            cell.targets,
            cell.fold,
            cell.protocol,
            cell.target_protocol,
            self.families,
            res.num_cpus,
            self.level,
        )

    def _receive(self, ref: Ref, cell: _Cell) -> None:
        """Store a finished cell's folds, or record its job's failure."""
        try:
            outputs = self.ray.get(ref)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            err = _cause(e)
            log.error("run %s fold %d failed: %s", cell.job.name, cell.fold, err)
            self._fail(cell.job, err)
            return
        from pairlm.evaluation.cv import save_fold_output

        for rn, fold_out in outputs:
            save_fold_output(self.store, self.runs[rn], fold_out)
            self.view.fold_done(rn, cell.fold)

    def run(self) -> None:
        """Submit the queued cells, at most `concurrency` in flight, until all are back (a
        failed job's cells not yet submitted are dropped); cancel those in flight when
        interrupted."""
        inflight: dict[Ref, _Cell] = {}
        started: set[str] = set()
        try:
            while self.pending or inflight:
                while self.pending and len(inflight) < self.concurrency:
                    cell = self.pending.pop(0)
                    if cell.job.name in self.failed:
                        continue
                    if cell.job.name not in started:
                        started.add(cell.job.name)
                        self.view.started(cell.job)
                    inflight[self._submit(cell)] = cell
                if not inflight:
                    continue
                ready, _ = self.ray.wait(list(inflight), num_returns=1, timeout=0.25)
                for ref in ready:
                    self._receive(ref, inflight.pop(ref))
        except BaseException:
            for ref in inflight:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)
            raise


def _cause(e: BaseException) -> BaseException:
    """The model's own exception out of a RayTaskError, else the Ray error itself."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def describe_cluster(ray: Any) -> str:
    """The cluster in a line: nodes alive, CPUs and GPUs."""
    total = ray.cluster_resources()
    return (
        f"{len([n for n in ray.nodes() if n.get('Alive')])} node(s), "
        f"{total.get('CPU', 0):g} CPU, {total.get('GPU', 0):g} GPU"
    )
