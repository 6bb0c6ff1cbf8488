"""`pairlm distill`: train a fast student on gold pairs plus silver pairs that a saved teacher
model labels (`pairlm.distill`), and save the student as a plain model of its family."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pairlm.cli.common import add_data_args, data_kw, load_data
from pairlm.errors import ConfigError

REPORT_FILE = "distill.json"


def add_distill_command(sub: Any) -> None:
    p = sub.add_parser(
        "distill",
        help="train a fast student on gold pairs plus silver pairs a saved teacher labels",
        description="Silver pairs of the training texts (nearest neighbours by a sentence "
        "encoder, BM25 neighbours, random pairs; never a gold pair, never a text with "
        "itself) are scored by the teacher (cached by pair: a killed run resumes), and the "
        "student trains on gold plus silver; its threshold is chosen on gold validation "
        "pairs. Writes the student to --out as a plain model of its family, with distill.json "
        "(teacher, silver counts per sampler, labels) and silver.tsv beside it.",
    )
    p.add_argument("--teacher", required=True, metavar="MODEL_DIR", help="a saved pairlm model")
    p.add_argument("--data", required=True, help="gold training pairs: a file or dataset name")
    p.add_argument(
        "--valid", help="gold validation pairs (threshold, early stopping; default: inner split)"
    )
    add_data_args(p)
    p.add_argument("--student", required=True, metavar="FAMILY", help="the student's family")
    p.add_argument("--config", help="TOML or JSON file with the student's config keys")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one of the student's config keys (value parsed as TOML); repeatable",
    )
    p.add_argument("--out", required=True, help="directory for the student model")
    p.add_argument(
        "--samplers",
        metavar="NAME=X,...",
        help="silver pairs per sampler as multiples of the gold pairs, e.g. "
        "neighbours=1,bm25=1,random=0.5 (the default)",
    )
    p.add_argument(
        "--labels",
        choices=["soft", "hard"],
        default="soft",
        help="silver labels: the teacher's P(match) (soft, default) or its decision (hard)",
    )
    p.add_argument("--encoder", help="sentence encoder of the neighbours sampler (default MiniLM)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samplers (default 0)")
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="score silver pairs in this process (default) or on Ray actors",
    )
    p.add_argument("--address", help="with --backend ray: a running Ray cluster (default: local)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="silver pairs scored per batch, one cache commit each (default 512; 20000 with "
        "--backend ray)",
    )
    p.add_argument(
        "--cache-dir",
        help="teacher-score cache (default OUT/teacher-scores): rerun to resume a killed run",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_distill)


def parse_samplers(text: str | None) -> dict[str, float] | None:
    """`neighbours=1,bm25=0.5` as {sampler: multiple}; None when not given."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise ConfigError(f"--samplers expects NAME=MULTIPLE pairs (e.g. bm25=1), got {part!r}")
    return out


def _build(args: argparse.Namespace) -> Any:
    """The distill model, every flag checked (one-line errors naming the flag)."""
    from pairlm.configfile import load_config_file, parse_overrides
    from pairlm.models import registry

    try:
        registry.check_saved_model(args.teacher)
    except (FileNotFoundError, ConfigError) as e:
        raise ConfigError(f"--teacher {args.teacher}: {e}") from None
    if args.student not in registry.available() or args.student == "distill":
        fams = [f for f in registry.available() if f != "distill"]
        raise ConfigError(
            f"--student: unknown student family {args.student!r}; one of {', '.join(fams)}"
        )
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.address and args.backend != "ray":
        raise ConfigError("--address is for --backend ray")
    student_cfg = {**load_config_file(args.config), **parse_overrides(args.set)}
    cfg: dict[str, Any] = {
        "teacher": {"model_dir": str(Path(args.teacher))},
        "student": {"family": args.student, "config": student_cfg},
        "labels": args.labels,
        "seed": args.seed,
        "encoder": args.encoder,
        "backend": args.backend,
        "address": args.address,
        "cache_dir": args.cache_dir or str(Path(args.out) / "teacher-scores"),
        "score_batch": args.batch_size or (20000 if args.backend == "ray" else 512),
        "progress": False if args.no_progress else None,
    }
    samplers = parse_samplers(args.samplers)
    if samplers is not None:
        cfg["samplers"] = samplers
    if args.backend == "ray":
        from pairlm.evaluation.ray_predict import require_ray

        require_ray()
    try:
        return registry.create("distill", cfg)
    except ConfigError as e:
        flag = "--config/--set" if str(e).startswith("student") else "distill"
        raise ConfigError(f"{flag}: {e}") from None


def cmd_distill(args: argparse.Namespace) -> int:
    model = _build(args)  # every flag checked before any data is read
    train = load_data(args.data, args.format, **data_kw(args))
    valid = load_data(args.valid, args.format, **data_kw(args)) if args.valid else None
    print(
        f"distilling {model.config.teacher['model_dir']} into {args.student} on {len(train)} "
        f"gold pairs (silver: {model.config.counts(len(train))})",
        file=sys.stderr,
    )
    model.fit(train, valid)
    data = {"train": {"source": str(args.data), "pairs": len(train)}}
    for key, ds in (("train", train), ("valid", valid)):
        if ds is not None and ds.report is not None:
            rep = ds.report
            data[key] = {
                "source": str(args.data if key == "train" else args.valid),
                "pairs": len(ds),
                "rows_read": rep.rows_read,
                "rows_dropped": rep.rows_dropped,
                "side_file": rep.side_file,
            }
    out = model.save_student(args.out, extra={"data": data})
    s = model.summary_
    print(
        f"student {args.student} trained on {s['gold_pairs']} gold + {s['silver']['total']} "
        f"silver pairs {s['silver']['pairs']} ({s['labels_used']} labels; teacher scored "
        f"{s['scored_now']} now, the rest from its cache) in {model.fit_seconds_:.1f}s; "
        f"threshold {model.threshold_:.4f}; saved to {out} (report: {out / REPORT_FILE})",
        file=sys.stderr,
    )
    print(json.dumps({"out": str(out), **s["silver"]}, sort_keys=True))
    return 0
