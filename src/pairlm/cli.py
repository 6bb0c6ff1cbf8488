"""The `pairlm` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pairlm import __version__
from pairlm.configfile import load_config_file, parse_overrides

log = logging.getLogger("pairlm")


# ---------------------------------------------------------------------- helpers
def _console() -> Any:
    from rich.console import Console

    con = Console()
    if not con.is_terminal:  # piped or in CI: don't squeeze the results table into 80 columns
        con = Console(width=200)
    return con


def load_data(spec: str, fmt: str = "auto", policy: str = "skip", **kw: Any) -> Any:
    """A dataset from a path or a registered name (see `pairlm data list`)."""
    from pairlm.data import load_dataset

    # The full validation report is printed below; skip the reader's one-line warning.
    logging.getLogger("pairlm.data.readers").setLevel(logging.ERROR)
    ds = load_dataset(spec, fmt=fmt, policy=policy, **kw)
    rep = ds.report
    if rep is not None and (rep.rows_dropped or rep.rows_repaired):
        print(rep.summary(), file=sys.stderr)
    return ds


def parse_columns(text: str | None) -> dict[str, str] | None:
    """`--columns text_a=question,text_b=candidate,label=is_dup` as a mapping (the fields are
    checked by `reader_options`)."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, col = part.partition("=")
        if not sep or not key.strip() or not col.strip():
            raise SystemExit(
                f"error: --columns expects FIELD=COLUMN pairs (e.g. text_a=question); got {part!r}"
            )
        out[key.strip()] = col.strip()
    return out


def data_kw(args: argparse.Namespace) -> dict[str, Any]:
    """Reader options from the shared data flags (`_add_data_args`)."""
    from pairlm.data.readers import reader_options

    return reader_options(
        parse_columns(getattr(args, "columns", None)),
        keep_self_pairs=getattr(args, "keep_self_pairs", False),
        keep_duplicates=getattr(args, "keep_duplicates", False),
    )


def _add_data_args(p: argparse.ArgumentParser, training: bool = True) -> None:
    p.add_argument("--format", default="auto", help="force a format (default: detect)")
    p.add_argument(
        "--columns",
        help="column mapping for csv/tsv/jsonl/parquet, e.g. "
        "text_a=question,text_b=candidate,label=is_dup",
    )
    if training:
        p.add_argument(
            "--keep-self-pairs",
            action="store_true",
            help="keep pairs of a text with itself (dropped by default: they leak across folds)",
        )
        p.add_argument(
            "--keep-duplicates",
            action="store_true",
            help="keep exact repeats of a pair (dropped by default)",
        )


def _fold_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(
            f"error: --fold-ids expects comma-separated integers, got {text!r}"
        ) from None


# ---------------------------------------------------------------------- commands
def cmd_models(args: argparse.Namespace) -> int:
    from pairlm.models import registry

    width = max(len(n) for n in registry.available())
    for name in registry.available():
        fam = registry.info(name)
        ok, missing = registry.installed(name)
        state = "" if ok else f"  [not installed: {', '.join(missing)}"
        if not ok and fam.extras:
            state += f"; pip install 'pairlm[{','.join(fam.extras)}]'"
        state += "]" if not ok else ""
        print(f"{name:<{width}}  {fam.description}{state}")
        if fam.note:
            print(f"{'':<{width}}  note: {fam.note}")
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from pairlm.data import detect_format, read_pairs

    path = Path(args.path)
    logging.getLogger("pairlm.data.readers").setLevel(logging.ERROR)
    fmt = args.format if args.format != "auto" else detect_format(path)
    ds = read_pairs(
        path, fmt, policy=args.policy, side_file=args.side_file or "auto", **data_kw(args)
    )
    rep = ds.report
    if args.json:
        out = rep.to_dict() if rep else {}
        out.update({"pairs": len(ds), "positive_rate": ds.positive_rate})
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    con = _console()
    con.print(f"[bold]{path}[/bold]  format: [cyan]{fmt}[/cyan]")
    con.print(
        f"pairs kept: {len(ds)}; labelled: {int((ds.label >= 0).sum())}; "
        f"match rate: {ds.positive_rate:.1%}"
    )
    if rep is not None:
        con.print(rep.summary(), markup=False, highlight=False)
    texts, _, _ = ds.texts()
    con.print(f"distinct texts: {len(texts)}")
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from pairlm.data.datasets import DATASETS, DatasetNotFound, resolve_dataset

    logging.getLogger("pairlm.data.datasets").setLevel(logging.ERROR)  # no fallback warnings
    for name, spec in DATASETS.items():
        try:
            path = resolve_dataset(name, download=False)
            if spec.is_dir or path.name in spec.files:
                where = f"local: {path}"
            else:
                where = f"not here ({'downloadable; ' if spec.urls else ''}falls back to {spec.fallback}: {path})"
        except (DatasetNotFound, FileNotFoundError, ValueError):
            where = "downloadable" if spec.urls else "not available here"
        print(f"{name:16s} {spec.description}\n{'':16s} [{where}]")
    return 0


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
    con = _console()
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
    folds = _fold_list(args.fold_ids)
    bad = [f for f in folds or [] if not 0 <= f < protocol.folds]
    if bad:
        raise SystemExit(
            f"error: --fold-ids {args.fold_ids}: fold(s) {bad} out of range 0..{protocol.folds - 1}"
            f" (--folds {protocol.folds})"
        )
    ds = load_data(args.data, args.format, **data_kw(args))
    out = Path(args.out)
    con = _console()
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
            folds=_fold_list(args.fold_ids),
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
    con = _console()
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


def cmd_train(args: argparse.Namespace) -> int:
    from pairlm.models.registry import create

    config = {**load_config_file(args.config), **parse_overrides(args.set)}
    train = load_data(args.data, args.format, **data_kw(args))
    valid = load_data(args.valid, args.format, **data_kw(args)) if args.valid else None
    model = create(args.model, config)
    model.fit(train, valid)
    model.save(args.out)
    print(
        f"trained {args.model} on {len(train)} pairs in {model.fit_seconds_:.1f}s; "
        f"threshold {model.threshold_:.4f}; saved to {args.out}"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Score every row of a file, in input order: rows that cannot be scored (an empty text,
    a malformed line, undecodable bytes) are answered with an empty probability, status
    "unscored" and the reason; the exit code is 3 when there are any."""
    import numpy as np

    from pairlm.evaluation.metrics import binary_metrics
    from pairlm.evaluation.predict import predict_rows, write_text_atomic
    from pairlm.models.base import load_model

    if args.backend == "ray":
        from pairlm.evaluation.ray_predict import require_ray, saved_threshold, score_on_ray

        require_ray()  # before the data is read
        threshold = saved_threshold(args.model_dir)  # the actors load the model
        ds = load_data(args.data, args.format, scoring=True, **data_kw(args))
        proba = score_on_ray(
            args.model_dir,
            ds,
            actors=args.actors,
            batch_size=args.batch_size,
            address=args.address,
        )
    else:
        if args.address or args.actors:
            raise SystemExit("error: --address and --actors are for --backend ray")
        model = load_model(args.model_dir)
        threshold = model.threshold_
        ds = load_data(args.data, args.format, scoring=True, **data_kw(args))
        proba = model.predict_proba(ds) if len(ds) else np.zeros(0)
    result = predict_rows(ds, proba, threshold)
    out = Path(args.out) if args.out else None
    if out is None:
        sys.stdout.write(result.text())
    else:
        write_text_atomic(out, result.text())
    print(result.summary(out), file=sys.stderr)
    unscored = result.unscored_reasons
    labelled = ds.label >= 0
    if labelled.any() and len(np.unique(ds.label[labelled])) == 2:
        y = ds.label[labelled].astype(np.int64)
        m = binary_metrics(y, np.asarray(proba)[labelled], threshold)
        print(
            f"metrics on the {int(labelled.sum())} labelled rows: "
            + json.dumps({k: round(v, 4) for k, v in m.items()}),
            file=sys.stderr,
        )
    return 3 if unscored else 0


def cmd_check(args: argparse.Namespace) -> int:
    """The behavioural suite on a saved model: per test, its failure rate and failing cases."""
    from pairlm.evaluation.behaviour import names, run_suite
    from pairlm.models.base import load_model
    from pairlm.report.behaviour import check_markdown, example_text

    if args.n < 100:
        raise SystemExit(f"error: --n must be at least 100 (cases per test), got {args.n}")
    if not 0 <= args.tolerance <= 1:
        raise SystemExit(f"error: --tolerance must be in [0, 1], got {args.tolerance}")
    tests = [t for t in (args.tests or "").split(",") if t] or None
    unknown = sorted(set(tests or []) - set(names()))
    if unknown:
        raise SystemExit(
            f"error: --tests: unknown test(s) {', '.join(unknown)}; known: {', '.join(names())}"
        )
    model = load_model(args.model_dir)
    rep = run_suite(
        model,
        n=args.n,
        seed=args.seed,
        tolerance=args.tolerance,
        n_examples=args.examples,
        tests=tests,
    )
    doc = {"model_dir": str(args.model_dir), **rep.to_dict()}
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "check.json").write_text(text, encoding="utf-8")
        (out / "check.md").write_text(check_markdown(doc), encoding="utf-8")
    if args.json:
        sys.stdout.write(text)
    else:
        from rich.table import Table

        table = Table(title=f"pairlm check {args.model_dir} ({rep.model['family']})")
        for col in ("test", "kind", "cases", "failure rate", "a failing case"):
            table.add_column(col, justify="right" if col in ("cases", "failure rate") else "left")
        for r in rep.results:
            ex = example_text(r.examples[0]) if r.examples else ""
            table.add_row(r.name, r.kind, str(r.n), f"{r.failure_rate:.3f}", ex)
        con = _console()
        con.print(table)
        s = rep.summary()
        parts = [
            f"{k} {s[f'{k}_mean_failure_rate']:.3f}"
            for k in ("mft", "inv", "dir")
            if s[f"{k}_mean_failure_rate"] is not None
        ]
        if s["symmetry_failure_rate"] is not None:
            parts.append(f"symmetry {s['symmetry_failure_rate']:.3f}")
        con.print("mean failure rate: " + ", ".join(parts))
    if args.out:
        print(f"wrote {Path(args.out) / 'check.json'} and check.md", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pairlm.serve.app import serve_from_args

    return serve_from_args(args)


# ---------------------------------------------------------------------- parser
def _add_protocol_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--folds", type=int, default=10, help="number of folds (default 10)")
    p.add_argument(
        "--strategy",
        choices=["stratified", "grouped"],
        default="stratified",
        help="pair-level stratified k-fold (the paper's) or question-grouped",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--subsample", type=int, help="stratified subsample of the data before splitting"
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.1,
        help="share of each training fold used for validation (threshold, early stopping)",
    )
    p.add_argument("--max-train", type=int, help="per-fold training subsample (slow methods)")
    p.add_argument("--max-test", type=int, help="per-fold test subsample (slow scorers)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model family (see `pairlm models`)")
    p.add_argument("--config", help="TOML or JSON file with the family's config keys")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one config key (value parsed as TOML); repeatable",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairlm",
        description="Decide whether two texts mean the same thing, and measure how well each method does it.",
    )
    parser.add_argument("--version", action="version", version=f"pairlm {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list the registered model families")
    p.set_defaults(func=cmd_models)

    data = sub.add_parser("data", help="inspect and list datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    p = dsub.add_parser("inspect", help="detect the format, load, validate and report on a file")
    p.add_argument("path")
    _add_data_args(p)
    p.add_argument(
        "--policy",
        choices=["skip", "error"],
        default="skip",
        help="skip bad rows with a report (default) or stop at the first",
    )
    p.add_argument("--side-file", help="where to write dropped rows (default: user cache)")
    p.add_argument("--json", action="store_true", help="print the validation report as JSON")
    p.set_defaults(func=cmd_data_inspect)
    p = dsub.add_parser("list", help="list the named datasets")
    p.set_defaults(func=cmd_data_list)

    def _data_help(_: argparse.Namespace) -> int:
        data.print_help()
        return 2

    data.set_defaults(func=_data_help)

    p = sub.add_parser("cv", help="k-fold cross-validation of one model family (resumable)")
    p.add_argument(
        "--data", required=True, help="a pairs file or a dataset name (`pairlm data list`)"
    )
    _add_data_args(p)
    _add_model_args(p)
    _add_protocol_args(p)
    p.add_argument("--out", default="runs/cv", help="experiment directory (default runs/cv)")
    p.add_argument("--name", help="run name in the store (default: the family)")
    p.add_argument("--fold-ids", help="only these folds, e.g. 0,1")
    p.add_argument("--reference", help="run to compare against (default: best mean F1)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_cv)

    p = sub.add_parser(
        "report", help="write report.md (and report.html) from an experiment directory"
    )
    p.add_argument("dir")
    p.add_argument(
        "--reference",
        action="append",
        help="run to compare against (default: best mean F1); repeat for more references "
        "in summary.json (the first is the report's)",
    )
    p.add_argument("--json", action="store_true", help="also write summary.json")
    p.add_argument("--out", help="write the report files here (default: DIR)")
    p.add_argument("--runs", help="only these runs, e.g. lexical,biencoder (needs --out)")
    p.add_argument(
        "--with-store",
        action="store_true",
        help="also copy a consistent snapshot of DIR/results.sqlite to --out (runs may go on)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the Markdown")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("run", help="run an experiment file (TOML): every run on the same folds")
    p.add_argument("experiment")
    p.add_argument("--out", required=True)
    p.add_argument("--only", action="append", help="only this run (repeatable)")
    p.add_argument("--fold-ids", help="only these folds, e.g. 0,1")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="runs side by side in worker processes, as memory allows (default 1); with "
        "--backend ray: (run, fold) tasks at once (default: as the cluster allows)",
    )
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default=None,
        help="local processes (default) or Ray tasks, one per (run, fold) "
        "(default: the file's [experiment] backend); needs pip install 'pairlm[ray]'",
    )
    p.add_argument(
        "--address",
        help="with --backend ray: a running Ray cluster (e.g. auto, ray://head:10001); "
        "default: start a local Ray",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "glue",
        help="GLUE mode: train on train.tsv, score dev.tsv, write the "
        "test submission (QQP.tsv / MRPC.tsv)",
    )
    p.add_argument("--task", choices=["qqp", "mrpc"], required=True)
    p.add_argument(
        "--glue-dir",
        required=True,
        help="the task's GLUE folder (train.tsv, dev.tsv, test.tsv), or MRPC's "
        "original release with dev_ids.tsv",
    )
    _add_model_args(p)
    p.add_argument("--out", required=True, help="where the submission, results and model go")
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.1,
        help="share of train.tsv held out to choose the threshold (default 0.1)",
    )
    p.add_argument("--max-train", type=int, help="stratified subsample of train.tsv")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_glue)

    p = sub.add_parser("train", help="train one model on a dataset and save it")
    p.add_argument("--data", required=True)
    p.add_argument("--valid", help="validation data for the threshold (default: inner split)")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("--out", required=True, help="model directory")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="score pairs with a saved model")
    p.add_argument("model_dir")
    p.add_argument("--data", required=True)
    _add_data_args(p, training=False)
    p.add_argument(
        "--out",
        help="TSV of line, pair_id, proba, prediction, status, reason: every input row, in "
        "input order (default: stdout)",
    )
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="score in this process (default) or on Ray actors, the model loaded once per "
        "actor (pip install 'pairlm[ray]')",
    )
    p.add_argument("--address", help="with --backend ray: a running Ray cluster (default: local)")
    p.add_argument(
        "--actors",
        type=int,
        help="with --backend ray: scoring actors (default: one per CPU, or per GPU for cuda)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=1024,
        help="with --backend ray: pairs per batch an actor scores (default 1024)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "check", help="behavioural tests of a saved model (negation, numbers, word order, ...)"
    )
    p.add_argument("model_dir")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--out", help="directory to write check.json and check.md into")
    p.add_argument("--n", type=int, default=200, help="cases per test (at least 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.1,
        help="invariance tests: largest allowed score change",
    )
    p.add_argument("--examples", type=int, default=3, help="failing cases kept per test")
    p.add_argument("--tests", help="comma-separated test names (default: all)")
    p.set_defaults(func=cmd_check)

    from pairlm.search.cli import add_search_commands  # lazy inside: no faiss/torch at import

    add_search_commands(sub)

    from pairlm.serve.config import add_serve_arguments  # light: no FastAPI import here

    p = sub.add_parser("serve", help="run the HTTP service")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.verbose == 0:
        # transformers prints a load report and a progress bar per model (once per fold),
        # bitsandbytes an import-time warning: keep the CLI's output to pairlm's own.
        from pairlm.logs import quiet_libraries

        quiet_libraries()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from pairlm.data.validation import DataError
    from pairlm.evaluation.store import StoreError
    from pairlm.models.base import ConfigError

    try:
        return int(args.func(args) or 0)
    except (DataError, ConfigError, StoreError, FileNotFoundError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
