"""`pairlm models`, `data`, `train`, `predict`, `check` and `serve`: one model or one dataset
at a time."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pairlm.cli.common import console, data_kw, load_data, name_list
from pairlm.configfile import load_config_file, parse_overrides


def cmd_models(args: argparse.Namespace) -> int:
    from pairlm.models import registry

    if getattr(args, "family", None):
        return _family_keys(args.family)
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


def _family_keys(name: str) -> int:
    """`pairlm models FAMILY`: the family, then every config key with its type, default and
    meaning (the table of the family's docs page, from the same docstrings)."""
    from rich.table import Table
    from rich.text import Text

    from pairlm.configdoc import field_docs
    from pairlm.models import registry

    if name not in registry.available():
        raise SystemExit(
            f"error: unknown model family {name!r}; available: {', '.join(registry.available())}"
        )
    fam = registry.info(name)
    ok, missing = registry.installed(name)
    print(f"{name}: {fam.description}")
    if fam.note:
        print(f"note: {fam.note}")
    if not ok:
        extra = f"; pip install 'pairlm[{','.join(fam.extras)}]'" if fam.extras else ""
        raise SystemExit(f"error: {name} is not installed (missing: {', '.join(missing)}{extra})")
    title = f"{name} config keys (--set KEY=VALUE, --config FILE.toml, [runs.config])"
    table = Table(title=Text(title), title_justify="left")
    for col in ("key", "type", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for d in field_docs(registry.get_family(name).config_cls):
        table.add_row(*(Text(x) for x in (d.key, d.type, d.default, d.doc)))
    console().print(table)
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
    con = console()
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
    from pairlm.models.registry import load_model

    if args.backend == "ray":
        from pairlm.models.ray_scoring import require_ray, saved_threshold, score_on_ray

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
    from pairlm.models.registry import load_model
    from pairlm.report.behaviour import check_markdown, example_text

    if args.n < 100:
        raise SystemExit(f"error: --n must be at least 100 (cases per test), got {args.n}")
    if not 0 <= args.tolerance <= 1:
        raise SystemExit(f"error: --tolerance must be in [0, 1], got {args.tolerance}")
    tests = name_list(args.tests)
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
        for col in ("test", "kind", "family", "cases", "failure rate", "a failing case"):
            table.add_column(col, justify="right" if col in ("cases", "failure rate") else "left")
        for r in rep.results:
            ex = example_text(r.examples[0]) if r.examples else ""
            fam = f"{r.family} ({'seen' if r.seen else 'unseen'})"
            table.add_row(r.name, r.kind, fam, str(r.n), f"{r.failure_rate:.3f}", ex)
        con = console()
        con.print(table)
        s = rep.summary()
        parts = [
            f"{k} {s[f'{k}_mean_failure_rate']:.3f}"
            for k in ("mft", "inv", "dir")
            if s[f"{k}_mean_failure_rate"] is not None
        ]
        parts += [
            f"{k.replace('_', ' ')} {s[f'{k}_mean_failure_rate']:.3f}"
            for k in ("mft_seen", "mft_unseen")
            if s.get(f"{k}_mean_failure_rate") is not None
        ]
        if s["symmetry_failure_rate"] is not None:
            parts.append(f"symmetry {s['symmetry_failure_rate']:.3f}")
        con.print("mean failure rate: " + ", ".join(parts))
        con.print("seen: a template family some training augmentation makes pairs of")
    if args.out:
        print(f"wrote {Path(args.out) / 'check.json'} and check.md", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pairlm.serve.app import serve_from_args

    return serve_from_args(args)
