"""The grid's progress view: one rich bar over every (run, fold) cell and one bar per run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pairlm.experiments.jobs import Job

log = logging.getLogger(__name__)


class GridProgress:
    """One rich progress view: a bar over all (run, fold) cells and one bar per run."""

    def __init__(
        self, jobs: list[Job], wanted: dict[str, int], done: dict[str, int], enabled: bool
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

    def __enter__(self) -> GridProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, job: Job) -> None:
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

    def failed(self, job: Job) -> None:
        if self._progress is not None:
            for run, _ in job.cells:
                self._progress.update(self._tasks[run], status="[red]failed")
