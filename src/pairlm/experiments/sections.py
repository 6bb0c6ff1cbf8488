"""The tables of an experiment file, each documented by a dataclass whose fields are its keys.

`spec.parse_experiment` reads each table as its dataclass (`pairlm.configfile.from_table`:
exactly these fields as keys, each value checked against its annotation and `rule`, errors
naming the file, table and key), and the configuration reference (`pairlm.report.docs`) renders each
one's key, type, default and attribute docstring, so a key cannot be accepted without being
documented. `[protocol]` is `pairlm.evaluation.cv.Protocol`, `[[runs]]` is `spec.RunSpec`, a
transfer target table is `spec.TargetSpec` and `[check]` is `checks.CheckSpec`: their own
dataclasses. The parser keeps the values of the three below in `spec.Experiment` and
`spec.TransferSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pairlm.configfile import check_fields, rule

BACKENDS = ("local", "ray")
"""The values of `[experiment] backend` (and `pairlm run --backend`): this machine's process
pool (`pool`) or Ray (`ray_backend`)."""

_POLICIES = ("skip", "error")

AT_LEAST_10 = rule("an integer >= 10", lambda v: v >= 10)
"""The rule of a subsample size (pairs): `max_train`, `max_test`, `subsample`."""
POSITIVE = rule("a positive number", lambda v: v > 0)
"""The rule of `memory_gb`."""


@dataclass(frozen=True)
class ExperimentTable:
    """`[experiment]`: what the experiment is called and where its cells run."""

    name: str = ""
    """The experiment's name in its report (default: the file's name without `.toml`)."""
    description: str = ""
    """What the experiment measures, in a line, for readers of the file."""
    backend: str = field(
        default="local", metadata=rule(f"one of {', '.join(BACKENDS)}", lambda b: b in BACKENDS)
    )
    """Where the (run, fold) cells run: "local" (this machine, `--workers` processes) or "ray"
    (each cell a Ray task); `pairlm run --backend` overrides it."""
    address: str | None = field(
        default=None, metadata=rule("a non-empty string", lambda a: bool(a.strip()))
    )
    """With backend "ray": the address of a running Ray cluster ("auto" finds the local node's
    cluster); None starts a local Ray for the command."""
    reference: str | None = None
    """The run the report compares every other run against (None: the run with the best mean
    F1); ignored while it has no finished fold."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class DataTable:
    """`[data]`: the dataset every run is cross-validated on."""

    dataset: str
    """A registered dataset name (`pairlm data list`) or a file path, relative to the
    experiment file."""
    format: str = "auto"
    """Reader format, one of the formats table of the data page (`docs/data.md`), or "auto"
    (detected from the file)."""
    policy: str = field(default="skip", metadata=rule("'skip' or 'error'", _POLICIES.__contains__))
    """Bad rows: "skip" (dropped, counted in the validation report and written to a side file)
    or "error" (the first one stops the run)."""
    name: str = ""
    """The dataset's name in the store (default: `dataset`); a run resumed on other data under
    the same name is refused."""
    columns: dict[str, str] | None = field(default=None, metadata=rule('a table FIELD = "column"'))
    """Column mapping for csv/tsv/jsonl/parquet with other column names: a table FIELD =
    "column", the fields text_a, text_b, label, pair_id, id_a, id_b."""
    keep_self_pairs: bool = False
    """Keep pairs of a text with itself (dropped by default: they leak across folds)."""
    keep_duplicates: bool = False
    """Keep repeated pairs (dropped by default: they leak across folds)."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class TransferTable:
    """`[[transfer]]`: train on `[data]` fold by fold and score other datasets with each
    fold's model (stored as runs `<name>@<target>`)."""

    targets: list[Any]
    """Datasets to score: names or paths, or tables with `dataset`, `format`, `policy` and
    `name` (the target table below). Each is cut into the experiment's folds; fold k's model
    scores the target's fold k."""
    run: str | None = None
    """A `[[runs]]` entry whose model, config, max_train and memory_gb to reuse (give this or
    `model`, not both)."""
    name: str = ""
    """Prefix of the stored run names (default: `run`, else `model`)."""
    model: str | None = None
    """A registered model family, when no `run` is named."""
    config: dict[str, Any] = field(default_factory=dict)
    """The family's config keys, with `model`."""
    max_train: int | None = field(default=None, metadata=AT_LEAST_10)
    """Per-fold stratified subsample of the training part (pairs; default: the run's)."""
    max_test: int | None = field(default=None, metadata=AT_LEAST_10)
    """Per-fold stratified subsample of each target's part (pairs)."""
    optional: bool = False
    """Skip with a warning, rather than fail, when the family is not installed."""
    memory_gb: float | None = field(default=None, metadata=POSITIVE)
    """Peak memory of one fold (GiB), for scheduling parallel workers (default: the run's,
    else the family's estimate)."""
    description: str = ""
    """What this transfer run is, in a line."""

    def __post_init__(self) -> None:
        check_fields(self)
