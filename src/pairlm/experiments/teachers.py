"""`teacher = "RUN"` in a `[[runs]]` table: a `distill` run whose teacher is another run of
the same experiment file.

The named run's family and config become the distill config's `teacher`, so in each fold
the teacher is fitted on that fold's training part only (the same pairs the named run
trained on: the two runs must cut their folds and training parts alike), and a teacher
whose members keep checkpoints (`checkpoint_dir`) resumes the named run's finished
trainings instead of repeating them.
"""

from __future__ import annotations

from typing import Any

from pairlm.errors import ConfigError

_SAME = ("subsample", "max_train")
"""Per-run protocol keys a distill run and its teacher run must agree on."""


def resolve_teacher(
    where: str,
    run: dict[str, Any],
    config: dict[str, Any],
    runs: list[Any],
    skipped: list[tuple[str, str]],
) -> tuple[dict[str, Any] | None, str | None]:
    """(`config` with `teacher` filled in from the run it names, None) for a `[[runs]]` table
    `run` with a `teacher` key (`config` unchanged without one), or (None, why) when the
    named run is an optional run left out. `runs`: the runs parsed so far (the teacher run
    must come earlier in the file)."""
    name = run.get("teacher")
    if name is None:
        return config, None
    if not isinstance(name, str):
        raise ConfigError(f"{where}: `teacher` must be the name of a [[runs]] entry, got {name!r}")
    if run.get("model") != "distill":
        raise ConfigError(f'{where}: `teacher` is for runs with model = "distill"')
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: `config` must be a table")
    if "teacher" in config:
        raise ConfigError(f"{where}: give `teacher` or [runs.config] teacher, not both")
    base = next((r for r in runs if r.name == name), None)
    if base is None:
        if any(name == s for s, _ in skipped):
            return None, f"its teacher run {name!r} is skipped"
        raise ConfigError(
            f"{where}: `teacher` = {name!r} names no [[runs]] entry above this one; runs: "
            f"{', '.join(r.name for r in runs) or '(none)'}"
        )
    for key in _SAME:
        if run.get(key) != getattr(base, key):
            raise ConfigError(
                f"{where}: `{key}` ({run.get(key)}) differs from its teacher run {name!r}'s "
                f"({getattr(base, key)}): the teacher must train on each fold's same pairs"
            )
    return {**config, "teacher": {"family": base.model, "config": dict(base.config)}}, None
