"""`pairlm cv`, `report`, `run` and `glue`: the evaluation protocol's commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from pairlm.cli.common import console, data_kw, fold_list, load_data
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


def print_results(out_dir: Path, reference: str | None = None) -> None:
    from pairlm.evaluation.store import ResultStore
    from pairlm.report.tables import rich_table, summarize_grouped

    with ResultStore(out_dir, create=False) as store:
        summaries = summarize_grouped(store, reference)
    con = console()
    con.print(rich_table(summaries, title=f"Results in {out_dir}"))
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
    print_results(out, args.reference)
    con.print(f"results: {out / 'results.sqlite'}; `pairlm report {out}` writes the report")
    return 0


def _remove_store(out: Path) -> None:
    """Remove a store this command created and left empty (and its folder, if empty)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (out / f"results.sqlite{suffix}").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out.rmdir()


def cmd_report(args: argparse.Namespace) -> int:
    import tempfile

    from pairlm.evaluation.store import ResultStore, StoreError
    from pairlm.report.tables import markdown_report, summary_dict

    src = Path(args.dir)
    out = Path(getattr(args, "out", None) or src)
    keep_store = getattr(args, "with_store", False)
    only = [r for r in (getattr(args, "runs", None) or "").split(",") if r] or None
    if (keep_store or only) and out.resolve() == src.resolve():
        raise SystemExit("error: --with-store and --runs need --out, a directory other than DIR")
    refs = args.reference or []
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="pairlm-report-") as tmp:
        try:
            store = ResultStore(src, create=False)
        except FileNotFoundError as e:
            raise SystemExit(f"error: {e}") from e
        with store:
            if keep_store or only:
                # Report from a consistent (and, with --runs, filtered) copy of the store.
                try:
                    snapshot = store.snapshot(out if keep_store else tmp, runs=only)
                except StoreError as e:
                    raise SystemExit(f"error: {e}") from e
                if keep_store:
                    written.append(snapshot)
                src = snapshot.parent
        with ResultStore(src, create=False) as store:
            md = markdown_report(store, refs[0] if refs else None)
            summary = summary_dict(store, refs) if args.json else None
            import importlib.util

            if importlib.util.find_spec("pairlm.report.html") is not None:
                from pairlm.report.behaviour import load_checks
                from pairlm.report.html import write_html

                checks = load_checks(Path(args.dir), only)
                written.insert(
                    0, write_html(store, out / "report.html", refs[0] if refs else None, checks)
                )
    md, summary = _behaviour_section(Path(args.dir), out, only, md, summary)
    target = out / "report.md"
    target.write_text(md, encoding="utf-8")
    written.insert(0, target)
    if summary is not None:
        target = out / "summary.json"
        target.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", "utf-8")
        written.insert(1, target)
    if not args.quiet:
        print(md)
    for w in written:
        print(f"wrote {w}")
    return 0


def _behaviour_section(
    src: Path, out: Path, only: list[str] | None, md: str, summary: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Add the behaviour section (an experiment's `[check]` files) to the report, and copy
    those files next to a report published elsewhere."""
    import shutil

    from pairlm.evaluation.store import ResultStore
    from pairlm.experiments.checks import check_path
    from pairlm.report.behaviour import behaviour_markdown, behaviour_summary, load_checks
    from pairlm.report.tables import summarize_grouped

    checks = load_checks(src, only)
    if not checks:
        return md, summary
    with ResultStore(src, create=False) as store:
        f1 = {s.name: s.means["f1"] for s in summarize_grouped(store, bootstrap=0)}
    md += behaviour_markdown(checks, f1)
    if summary is not None:
        summary["behaviour"] = behaviour_summary(checks)
    if out.resolve() != src.resolve():
        for name in checks:
            dst = check_path(out, name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(check_path(src, name), dst)
    return md, summary


def cmd_run(args: argparse.Namespace) -> int:
    from pairlm.experiments.runner import RunFailed, run_experiment

    out = Path(args.out)
    if args.workers is not None and args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.address and args.backend == "local":
        raise SystemExit("error: --address is for --backend ray")
    rc = 0
    try:
        run_experiment(
            Path(args.experiment),
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
    print_results(out)
    report_args = argparse.Namespace(dir=str(out), reference=None, quiet=True, json=False)
    cmd_report(report_args)
    return rc


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
