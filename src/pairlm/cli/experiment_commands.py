"""`pairlm cv`, `report`, `merge`, `run` and `glue`: the evaluation protocol's commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from pairlm.cli.common import console, data_kw, fold_list, load_data, name_list
from pairlm.configfile import load_config_file, parse_overrides


def _protocol_from_args(args: argparse.Namespace) -> Any:
    from pairlm.evaluation.cv import Protocol

    try:
        return Protocol(
            folds=args.folds,
            strategy=args.strategy,
            seed=args.seed,
            subsample=args.subsample,
            valid_fraction=args.valid_fraction,
            max_train=args.max_train,
            max_test=args.max_test,
        )
    except ValueError as e:
        raise SystemExit(f"error: {e}") from e


def print_results(out_dir: Path, reference: str | None = None, wide: bool = False) -> None:
    """The results table: by default the main columns in at most 100 columns (run names
    whole); `wide`: every column, as in the report."""
    from pairlm.evaluation.store import ResultStore
    from pairlm.report.tables import (
        COMPACT_NOTE,
        COMPACT_WIDTH,
        compact_table_width,
        rich_table,
        summarize_grouped,
    )

    with ResultStore(out_dir, create=False) as store:
        summaries = summarize_grouped(store, reference)
    con = console()
    if not wide:  # 100 columns, more only where run names leave no other way
        con.width = max(min(con.width, COMPACT_WIDTH), compact_table_width(summaries))
    con.print(rich_table(summaries, title=f"Results in {out_dir}", wide=wide))
    if not wide and summaries:
        con.print(COMPACT_NOTE, style="dim")
    caveats = sorted({c for s in summaries for c in s.caveats})
    for c in caveats:
        con.print(f"[yellow]caveat:[/yellow] {c}")


def cmd_cv(args: argparse.Namespace) -> int:
    from pairlm.evaluation.cv import cross_validate
    from pairlm.evaluation.store import ResultStore
    from pairlm.models.registry import get_family

    config = {**load_config_file(args.config), **parse_overrides(args.set)}
    protocol = _protocol_from_args(args)
    get_family(args.model).config_cls.from_dict(dict(config))  # before any data is read
    folds = fold_list(args.fold_ids)
    bad = [f for f in folds or [] if not 0 <= f < protocol.folds]
    if bad:
        raise SystemExit(
            f"error: --fold-ids {args.fold_ids}: fold(s) {bad} out of range 0..{protocol.folds - 1}"
            f" (--folds {protocol.folds})"
        )
    ds = load_data(args.data, args.format, **data_kw(args))
    out = Path(args.out)
    con = console()
    con.print(f"{len(ds)} pairs from {args.data}; {protocol.describe()}")
    created = not (out / "results.sqlite").exists()
    with ResultStore(out) as store:
        try:
            try:
                from pairlm.evaluation.cv import prepare

                prepare(store, ds, protocol)  # cut the folds first: a bad --folds ends here
            except ValueError as e:
                store.close()
                if created:
                    _remove_store(out)
                raise SystemExit(f"error: --folds {protocol.folds}: {e}") from None
            cross_validate(
                ds,
                args.model,
                config,
                store=store,
                protocol=protocol,
                run_name=args.name,
                only_folds=folds,
                progress=None if not args.no_progress else False,
            )
        except KeyboardInterrupt:
            con.print(
                "[yellow]interrupted[/yellow]: finished folds are saved; "
                "run the same command again to resume."
            )
            return 130
    print_results(out, args.reference, getattr(args, "wide", False))
    con.print(f"results: {out / 'results.sqlite'}; `pairlm report {out}` writes the report")
    return 0


def _remove_store(out: Path) -> None:
    """Remove a store this command created and left empty (and its folder, if empty)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (out / f"results.sqlite{suffix}").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out.rmdir()


def cmd_report(args: argparse.Namespace) -> int:
    from pairlm.evaluation.store import StoreError
    from pairlm.report.publish import write_report

    only = name_list(getattr(args, "runs", None))
    store_runs = name_list(getattr(args, "store_runs", None))
    try:
        md, written = write_report(
            Path(args.dir),
            Path(getattr(args, "out", None) or args.dir),
            args.reference or [],
            runs=only,
            with_store=getattr(args, "with_store", False),
            store_runs=store_runs,
            with_json=args.json,
            experiment=getattr(args, "experiment", None),
        )
    except (StoreError, FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from e
    if not args.quiet:
        print(md)
    for w in written:
        print(f"wrote {w}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Copy the finished folds of other stores into DIR's (created if new)."""
    from pairlm.evaluation.cv import config_identity
    from pairlm.evaluation.store import ResultStore

    sources = [Path(s) for s in args.sources]
    for src in sources:
        if not (src / "results.sqlite").exists():
            raise FileNotFoundError(f"no results in {src} (no results.sqlite)")
    out = Path(args.dir)
    new = not (out / "results.sqlite").exists()
    with ResultStore(out) as store:
        for src in sources:
            try:
                n = store.merge(src, canonical=config_identity)
            except BaseException:
                if new and not store.runs():
                    store.close()
                    _remove_store(out)
                raise
            print(
                f"{src}: {n['runs_added']} run(s) and {n['folds_added']} fold(s) added, "
                f"{n['folds_kept']} fold(s) already in {args.dir}"
            )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pairlm.experiments.runner import RunFailed, run_experiment
    from pairlm.experiments.spec import load_experiment

    out = Path(args.out)
    if args.workers is not None and args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.address and args.backend == "local":
        raise SystemExit("error: --address is for --backend ray")
    exp = load_experiment(Path(args.experiment))
    rc = 0
    try:
        run_experiment(
            exp,
            out,
            only=args.only,
            folds=fold_list(args.fold_ids),
            workers=args.workers,
            progress=None if not args.no_progress else False,
            backend=args.backend,
            address=args.address,
        )
    except KeyboardInterrupt:
        print("interrupted: finished folds are saved; run the same command again to resume.")
        return 130
    except RunFailed as e:
        print(f"error: {e}", file=sys.stderr)
        rc = 1
    reference = _finished_reference(out, exp.reference)
    print_results(out, reference, getattr(args, "wide", False))
    from pairlm.report.publish import write_report

    for w in write_report(out, out, [reference] if reference else [], experiment=exp.name)[1]:
        print(f"wrote {w}")
    return rc


def _finished_reference(out: Path, reference: str | None) -> str | None:
    """The experiment's `reference` run where the store holds a finished fold of it (a run
    limited by --only or not started yet leaves the report to its default: best mean F1)."""
    if reference is None:
        return None
    from pairlm.evaluation.store import ResultStore

    with ResultStore(out, create=False) as store:
        run = store.get_run(reference)
        return reference if run is not None and store.finished_folds(run.run_id) else None


def cmd_glue(args: argparse.Namespace) -> int:
    from pairlm.evaluation.glue import run_glue

    config = {**load_config_file(args.config), **parse_overrides(args.set)}
    out = Path(args.out)
    res = run_glue(
        args.task,
        args.glue_dir,
        args.model,
        config,
        out,
        valid_fraction=args.valid_fraction,
        max_train=args.max_train,
        seed=args.seed,
    )
    con = console()
    con.print(
        f"GLUE {args.task.upper()} with {args.model}: trained on {res.n_train} pairs "
        f"({res.fit_seconds:.1f}s), threshold {res.threshold:.4f} chosen on "
        f"{res.n_valid} held-out training pairs"
    )
    if res.dev:
        con.print(
            f"dev: accuracy {res.dev['accuracy']:.4f}  F1 {res.dev['f1']:.4f}  "
            f"ROC-AUC {res.dev['roc_auc']:.4f}  ({int(res.dev['n'])} pairs)"
        )
    if res.test_labelled:
        con.print(
            f"test (labelled): accuracy {res.test_labelled['accuracy']:.4f}  "
            f"F1 {res.test_labelled['f1']:.4f}"
        )
    if res.submission:
        con.print(
            f"submission: {res.submission} ({res.n_test} test pairs"
            + (f", {res.test_filled} unreadable rows filled" if res.test_filled else "")
            + ")"
        )
    if res.model_dir:
        con.print(f"model: {res.model_dir}; results: {out / 'glue_results.json'}")
    return 0
