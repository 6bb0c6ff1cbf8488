"""The `pairlm` command: the parser and `main`; the commands live in `experiment_commands`
(cv, report, merge, run, glue) and `model_commands` (models, data, train, predict, check, serve),
what they share in `common`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from pairlm import __version__
from pairlm.cli.common import add_data_args, data_kw, load_data, parse_columns
from pairlm.cli.distill_command import add_distill_command
from pairlm.cli.experiment_commands import cmd_cv, cmd_glue, cmd_merge, cmd_report, cmd_run
from pairlm.cli.model_commands import (
    cmd_check,
    cmd_data_inspect,
    cmd_data_list,
    cmd_models,
    cmd_predict,
    cmd_serve,
    cmd_train,
)
from pairlm.errors import CLI_ERRORS, run_reporting
from pairlm.logs import configure_logging

__all__ = ["build_parser", "data_kw", "load_data", "main", "parse_columns"]


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


def _add_models_command(sub: Any) -> None:
    """`pairlm models [FAMILY]`."""
    p = sub.add_parser(
        "models", help="list the registered model families, or one family's config keys"
    )
    p.add_argument("family", nargs="?", help="a family: print its config keys")
    p.set_defaults(func=cmd_models)


def _add_data_commands(sub: Any) -> None:
    """`pairlm data inspect|list`."""
    data = sub.add_parser("data", help="inspect and list datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    p = dsub.add_parser("inspect", help="detect the format, load, validate and report on a file")
    p.add_argument("path")
    add_data_args(p)
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


def _add_cv_command(sub: Any) -> None:
    """`pairlm cv`: k-fold cross-validation of one family."""
    p = sub.add_parser("cv", help="k-fold cross-validation of one model family (resumable)")
    p.add_argument(
        "--data", required=True, help="a pairs file or a dataset name (`pairlm data list`)"
    )
    add_data_args(p)
    _add_model_args(p)
    _add_protocol_args(p)
    p.add_argument("--out", default="runs/cv", help="experiment directory (default runs/cv)")
    p.add_argument("--name", help="run name in the store (default: the family)")
    p.add_argument("--fold-ids", help="only these folds, e.g. 0,1")
    p.add_argument("--reference", help="run to compare against (default: best mean F1)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--wide",
        action="store_true",
        help="print every column of the results table (default: the main ones, 100 columns)",
    )
    p.set_defaults(func=cmd_cv)


def _add_report_command(sub: Any) -> None:
    """`pairlm report DIR`."""
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
    p.add_argument(
        "--store-runs",
        metavar="RUNS",
        help="with --with-store: copy only these runs into the snapshot (the report still "
        "covers every run), e.g. to leave out runs another snapshot already holds",
    )
    p.add_argument(
        "--experiment",
        metavar="NAME",
        help="the experiment's name, as the report states it (default: the --out directory's)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the Markdown")
    p.set_defaults(func=cmd_report)


def _add_merge_command(sub: Any) -> None:
    """`pairlm merge DIR SOURCES...`."""
    p = sub.add_parser(
        "merge",
        help="copy the finished folds of other experiment directories into DIR's store "
        "(e.g. rebuild a lost store from published snapshots, then resume)",
    )
    p.add_argument("dir", help="experiment directory to merge into (created if new)")
    p.add_argument("sources", nargs="+", help="experiment directories holding results.sqlite")
    p.set_defaults(func=cmd_merge)


def _add_run_command(sub: Any) -> None:
    """`pairlm run EXPERIMENT --out DIR`."""
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
    p.add_argument(
        "--wide",
        action="store_true",
        help="print every column of the results table (default: the main ones, 100 columns)",
    )
    p.set_defaults(func=cmd_run)


def _add_glue_command(sub: Any) -> None:
    """`pairlm glue`: GLUE mode."""
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


def _add_train_command(sub: Any) -> None:
    """`pairlm train`."""
    p = sub.add_parser("train", help="train one model on a dataset and save it")
    p.add_argument("--data", required=True)
    p.add_argument("--valid", help="validation data for the threshold (default: inner split)")
    add_data_args(p)
    _add_model_args(p)
    p.add_argument("--out", required=True, help="model directory")
    p.set_defaults(func=cmd_train)


def _add_predict_command(sub: Any) -> None:
    """`pairlm predict MODEL_DIR --data FILE`."""
    p = sub.add_parser("predict", help="score pairs with a saved model")
    p.add_argument("model_dir")
    p.add_argument("--data", required=True)
    add_data_args(p, training=False)
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


def _add_check_command(sub: Any) -> None:
    """`pairlm check MODEL_DIR`: the behavioural tests."""
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
    _add_models_command(sub)
    _add_data_commands(sub)
    _add_cv_command(sub)
    _add_report_command(sub)
    _add_merge_command(sub)
    _add_run_command(sub)
    _add_glue_command(sub)
    _add_train_command(sub)
    _add_predict_command(sub)
    _add_check_command(sub)

    from pairlm.search.cli import add_search_commands  # lazy inside: no faiss/torch at import

    add_search_commands(sub)
    add_distill_command(sub)

    from pairlm.serve.config import add_serve_arguments  # light: no FastAPI import here

    p = sub.add_parser("serve", help="run the HTTP service")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Without -v, transformers' load reports and progress bars (once per fold) and
    # bitsandbytes' import-time warning are quieted: the CLI's output is pairlm's own.
    configure_logging(level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(run_reporting(CLI_ERRORS, args.func, args) or 0)


if __name__ == "__main__":
    sys.exit(main())
