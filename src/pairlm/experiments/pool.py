"""Where jobs (`jobs`: a whole run, or a whole transfer) run on this machine: `run_parallel`
runs several side by side in spawned worker processes while their memory estimates fit (each
worker writes its own folds to the shared SQLite store); one worker runs them in this process
(`jobs.run_job`)."""

from __future__ import annotations

import logging
import math
import os
import queue as queue_mod
import threading
import time
from pathlib import Path
from typing import Any

from pairlm.experiments.jobs import Job, run_job
from pairlm.experiments.progress_view import GridProgress
from pairlm.experiments.spec import Experiment

log = logging.getLogger(__name__)


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
    from pairlm.logs import configure_logging
    from pairlm.models import registry

    configure_logging(level, "worker")
    registry.register_missing(families)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _worker_run(
    job: Job, out: str, exp: Experiment, data: dict[str, Any], folds: list[int] | None
) -> str:
    def on_fold(run: str, fold: int, total: int) -> None:
        _EVENTS.put(("fold", run, fold))

    _EVENTS.put(("start", job.name, -1))
    run_job(job, Path(out), exp, data, folds, on_fold)
    return job.name


def run_parallel(
    jobs: list[Job],
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    folds: list[int] | None,
    workers: int,
    budget: float,
    view: GridProgress,
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
    running: dict[Future[str], Job] = {}
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
