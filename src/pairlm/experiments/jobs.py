"""Jobs: the unit of work of the experiment grid, a whole run (`CvJob`: all its folds still
to do) or a whole transfer (`TransferJob`: the source's folds, each scored on every target).

What differs between the two kinds is written once, here, as the methods of the two classes;
the local pool (`pool`) and the Ray backend (`ray_backend`) call them and never ask which
kind a job is:

- `execute`: the whole job in this process, resumable, writing its folds to the store (the
  local pool's worker body);
- `open`: validate, cut the folds and get or create the job's runs in the store, and list its
  fold cells (the Ray driver, before any task starts);
- `compute`: one fold cell, trained and scored, touching no store (a Ray task).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pairlm.experiments.spec import Experiment, RunSpec, TransferSpec

if TYPE_CHECKING:
    from pairlm.data.pairs import PairDataset
    from pairlm.evaluation.cv import FoldOutput, PreparedData, Protocol
    from pairlm.evaluation.store import ResultStore, RunInfo

OnFold = Callable[[str, int, int], None]
"""Called after each stored fold: (run name, fold, folds in all)."""


@dataclass
class FoldCell:
    """One fold of an opened job: the runs it stores, and for a transfer the targets' data."""

    fold: int
    runs: list[str]
    """The run names this cell stores (a transfer: one per target still missing the fold)."""
    targets: list[tuple[str, PreparedData]]
    """(target run name, the target's prepared data); empty for a cv run."""


@dataclass
class OpenedJob:
    """A job's runs in the store and its fold cells (`Job.open`)."""

    source: PreparedData
    runs: dict[str, RunInfo]
    """Run name -> its record in the store."""
    cells: list[FoldCell]


@dataclass
class Job:
    """One unit of work for a worker: a whole run (all its folds), or a whole transfer."""

    name: str
    spec: RunSpec | TransferSpec
    cells: list[tuple[str, int]]  # (run name, fold) still to do
    memory_gb: float
    kind: ClassVar[str] = ""
    """The job's kind ("cv" or "transfer"), for messages."""

    def target_protocol(self, exp: Experiment) -> Protocol | None:
        """How the job's targets are cut (None: a job without targets)."""
        return None

    def execute(
        self,
        store: ResultStore,
        exp: Experiment,
        data: dict[str, Any],
        folds: list[int] | None,
        on_fold: OnFold | None,
    ) -> None:
        """Run the whole job here (resumable), storing each fold as it finishes."""
        raise NotImplementedError

    def open(self, store: ResultStore, exp: Experiment, data: dict[str, Any]) -> OpenedJob:
        """Validate, cut the folds, get or create the job's runs; its cells still to do."""
        raise NotImplementedError

    def compute(
        self,
        source: PreparedData,
        targets: list[tuple[str, PreparedData]],
        fold: int,
        protocol: Protocol,
        target_protocol: Protocol | None,
    ) -> list[tuple[str, FoldOutput]]:
        """Train and score one fold cell: [(run name, FoldOutput)]. Writes nothing."""
        raise NotImplementedError


@dataclass
class CvJob(Job):
    """A `[[runs]]` run: cross-validated on the experiment's dataset."""

    spec: RunSpec
    kind: ClassVar[str] = "cv"

    def execute(
        self,
        store: ResultStore,
        exp: Experiment,
        data: dict[str, Any],
        folds: list[int] | None,
        on_fold: OnFold | None,
    ) -> None:
        from pairlm.evaluation.cv import cross_validate

        spec = self.spec
        cross_validate(
            data["source"],
            spec.model,
            spec.config,
            store=store,
            protocol=exp.protocol_for(spec),
            run_name=spec.name,
            dataset_name=exp.dataset_name,
            only_folds=spec.folds_in(folds),
            progress=False,
            on_fold=on_fold,
        )

    def open(self, store: ResultStore, exp: Experiment, data: dict[str, Any]) -> OpenedJob:
        from pairlm.evaluation.cv import open_run

        spec = self.spec
        run, prepared = open_run(
            store,
            data["source"],
            spec.model,
            spec.config,
            exp.protocol_for(spec),
            spec.name,
            exp.dataset_name,
        )
        cells = [FoldCell(fold, [run.name], []) for _, fold in self.cells]
        return OpenedJob(prepared, {run.name: run}, cells)

    def compute(
        self,
        source: PreparedData,
        targets: list[tuple[str, PreparedData]],
        fold: int,
        protocol: Protocol,
        target_protocol: Protocol | None,
    ) -> list[tuple[str, FoldOutput]]:
        from pairlm.evaluation.cv import run_fold

        spec = self.spec
        return [(spec.name, run_fold(source, spec.model, spec.config, fold, protocol))]


@dataclass
class TransferJob(Job):
    """A `[[transfer]]` run: trained on each fold of the source, scored on every target."""

    spec: TransferSpec
    kind: ClassVar[str] = "transfer"

    def target_protocol(self, exp: Experiment) -> Protocol:
        return exp.target_protocol(self.spec)

    def _targets(self, data: dict[str, Any]) -> list[tuple[Any, PairDataset]]:
        return [(t, data["targets"][t.name]) for t in self.spec.targets]

    def execute(
        self,
        store: ResultStore,
        exp: Experiment,
        data: dict[str, Any],
        folds: list[int] | None,
        on_fold: OnFold | None,
    ) -> None:
        from pairlm.experiments.transfer import transfer_validate

        spec = self.spec
        transfer_validate(
            data["source"],
            self._targets(data),
            spec,
            store=store,
            protocol=exp.protocol_for(spec),
            target_protocol=exp.target_protocol(spec),
            source_name=exp.dataset_name,
            only_folds=folds,
            on_fold=on_fold,
        )

    def open(self, store: ResultStore, exp: Experiment, data: dict[str, Any]) -> OpenedJob:
        from pairlm.experiments.transfer import open_transfer

        spec = self.spec
        src, opened = open_transfer(
            store,
            data["source"],
            self._targets(data),
            spec,
            exp.protocol_for(spec),
            exp.target_protocol(spec),
            exp.dataset_name,
        )
        preps = {run.name: tp for run, tp in opened}
        by_fold: dict[int, list[str]] = {}
        for rn, fold in self.cells:
            by_fold.setdefault(fold, []).append(rn)
        cells = [
            FoldCell(fold, by_fold[fold], [(rn, preps[rn]) for rn in by_fold[fold]])
            for fold in sorted(by_fold)
        ]
        return OpenedJob(src, {run.name: run for run, _ in opened}, cells)

    def compute(
        self,
        source: PreparedData,
        targets: list[tuple[str, PreparedData]],
        fold: int,
        protocol: Protocol,
        target_protocol: Protocol | None,
    ) -> list[tuple[str, FoldOutput]]:
        from pairlm.experiments.transfer import fit_transfer_fold, score_transfer_target

        assert target_protocol is not None
        fitted = fit_transfer_fold(source, self.spec, fold, protocol)
        return [(rn, score_transfer_target(fitted, tp, target_protocol)) for rn, tp in targets]


def memory_of(spec: RunSpec | TransferSpec) -> float:
    """Peak memory of one fold of a run (GiB): its `memory_gb`, else the family's estimate."""
    from pairlm.models import registry

    return spec.memory_gb or registry.info(spec.model).memory_gb


def run_job(
    job: Job,
    out: Path,
    exp: Experiment,
    data: dict[str, Any],
    folds: list[int] | None,
    on_fold: OnFold | None,
) -> None:
    """Run one job in this process, in the store of `out` (the worker body, also used with
    one worker)."""
    from pairlm.evaluation.store import ResultStore

    with ResultStore(out) as store:
        job.execute(store, exp, data, folds, on_fold)
