"""The search and serve subcommands of `pairlm`: index build|add|delete|info, search, mine,
match. `add_search_commands(subparsers)` registers them; each sets ``func``. (`pairlm serve`
is registered by the top-level CLI: search knows nothing of HTTP.)"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairlm.errors import SEARCH_ERRORS, run_reporting


def _errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report the clear errors of this package as ``error: ...`` with exit code 2
    (`pairlm.errors.run_reporting`, the command line's one error path)."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        return run_reporting(SEARCH_ERRORS, fn, args)

    return wrapper


def _positive(x: str) -> int:
    """argparse type: a whole number at least 1."""
    try:
        v = int(x)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {x!r}")
    return v


def _console() -> Any:
    from rich.console import Console

    return Console()


def _corpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--corpus",
        required=True,
        help="one text per line (.txt), CSV/TSV/JSONL with id+text columns, "
        "or a pairs file (its distinct texts)",
    )
    _column_args(p)


def _column_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id-column", help="id column of a CSV/TSV/JSONL corpus (default: detected)")
    p.add_argument(
        "--text-column", help="text column of a CSV/TSV/JSONL corpus (default: detected)"
    )


_ENCODER_HELP = (
    "sentence-transformers model dir or name, or a saved pairlm biencoder model (a distilled "
    "student too) (default: packaged all-MiniLM-L6-v2)"
)


def _reranker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reranker",
        help="directory of a saved pairlm model (any family) that scores each hit's "
        "P(duplicate) and reorders the hits by it",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="P(duplicate) cut-off (default: the reranker's learned threshold)",
    )


def add_search_commands(subparsers: Any) -> None:
    """Register index/search/mine/match on an argparse subparsers object."""
    idx = subparsers.add_parser("index", help="build and change a corpus search index")
    isub = idx.add_subparsers(dest="index_command", metavar="SUBCOMMAND")

    p = isub.add_parser("build", help="embed a corpus and write an index directory")
    _corpus_args(p)
    p.add_argument("--out", required=True, help="index directory to create")
    p.add_argument("--encoder", help=_ENCODER_HELP)
    p.add_argument(
        "--hnsw-threshold",
        type=int,
        help="HNSW at or above this many documents, exact search below (default 50000)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an index already at --out")
    p.set_defaults(func=cmd_index_build)

    p = isub.add_parser("add", help="add (or replace) documents from a corpus file")
    p.add_argument("--index", required=True, help="index directory")
    _corpus_args(p)
    p.set_defaults(func=cmd_index_add)

    p = isub.add_parser("delete", help="delete documents by id")
    p.add_argument("--index", required=True, help="index directory")
    p.add_argument("ids", nargs="*", help="document ids")
    p.add_argument("--ids-file", help="a file with one id per line")
    p.set_defaults(func=cmd_index_delete)

    p = isub.add_parser("info", help="what an index holds; checks FAISS against SQLite")
    p.add_argument("--index", required=True, help="index directory")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_index_info)

    _add_search_command(subparsers)

    p = subparsers.add_parser("mine", help="find all duplicate pairs in a corpus (ANN, not n²)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--index", help="mine an index (uses its stored vectors)")
    src.add_argument("--corpus", help="mine a corpus file (embedded here)")
    _column_args(p)
    p.add_argument("--encoder", help=_ENCODER_HELP + "; with --corpus")
    p.add_argument("--out", required=True, help="pairs as .csv/.tsv or .jsonl")
    p.add_argument("-k", "--neighbours", type=int, default=50, help="neighbours per text")
    p.add_argument("--floor", type=float, default=0.8, help="minimum cosine similarity")
    p.add_argument("--nprobe", type=int, default=16, help="IVF clusters probed (large corpora)")
    _reranker_args(p)
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="score the candidate pairs with the reranker here (default) or on Ray actors "
        "(pip install 'pairlm[ray]')",
    )
    p.add_argument("--actors", type=int, help="with --backend ray: scoring actors")
    p.add_argument("--address", help="with --backend ray: a running Ray cluster")
    p.set_defaults(func=cmd_mine)

    _add_match_command(subparsers)


def _add_search_command(subparsers: Any) -> None:
    p = subparsers.add_parser("search", help="find the duplicates of texts in an index")
    p.add_argument("text", nargs="+", help="query text(s)")
    p.add_argument("--index", required=True, help="index directory (pairlm index build)")
    p.add_argument(
        "-k",
        "--top-k",
        type=_positive,
        default=10,
        help="documents per query: exactly min(k, documents in the index), distinct; with "
        "--reranker, the best k by P(duplicate) of the 3·k nearest (default 10)",
    )
    p.add_argument(
        "--reranker",
        help="directory of a saved pairlm model (any family): P(duplicate) of each hit, "
        "hits ordered by it, those at or above --threshold marked as duplicates",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="with --reranker: P(duplicate) at or above which a hit is marked a duplicate "
        "(default: the reranker's learned threshold)",
    )
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.set_defaults(func=cmd_search)


def _add_match_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "match",
        help="match two collections (texts of any length, profiles of several documents)",
        description="Match every query against every candidate. A `profile` field (JSONL key, "
        "CSV/TSV column) in either file groups rows into one query or candidate of several "
        "documents; each document is split into passages on its own. Every passage pair is "
        "scored exactly, so each query gets exactly min(k, candidates) candidates.",
    )
    p.add_argument("--queries", required=True, help="corpus file of queries (.txt, CSV/TSV/JSONL)")
    p.add_argument(
        "--candidates", required=True, help="corpus file of candidates (.txt, CSV/TSV/JSONL)"
    )
    p.add_argument("--out", required=True, help="results as .csv/.tsv or .jsonl")
    p.add_argument(
        "-k",
        "--top-k",
        type=_positive,
        default=10,
        help="candidates per query: exactly min(k, number of candidate profiles) (default 10)",
    )
    p.add_argument(
        "--pool",
        choices=("max", "mean"),
        default="max",
        help="a candidate's score: max, its best passage pair with the query; mean, the mean "
        "of its --top-n best documents, each by its best passage pair (the same as max for "
        "single documents) (default max)",
    )
    p.add_argument(
        "--top-n",
        type=_positive,
        default=2,
        help="with --pool mean: the number of best (query document, candidate document) "
        "pairs averaged (default 2)",
    )
    p.add_argument(
        "--max-words",
        type=_positive,
        default=160,
        help="passage budget in words (default 160; the work grows with the product of the "
        "passage counts: raise it for very large collections)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        help="words consecutive passages share, below --max-words (default: a fifth of "
        "--max-words, at most 32)",
    )
    p.add_argument("--encoder", help=_ENCODER_HELP)
    p.add_argument(
        "--reranker",
        help="directory of a saved pairlm model (any family): P(duplicate) of each top-k "
        "candidate's best passage pair, candidates reordered by it",
    )
    p.add_argument(
        "--judgements",
        help="graded pairs (query_id, candidate_id, grade; CSV/TSV/JSONL) to measure the "
        "matching against: nDCG@k, MAP@k and the pairwise ordering loss, per query and overall "
        "with bootstrap 95%% CIs, written to OUT's name with .metrics.json",
    )
    p.add_argument(
        "--relevant-grade",
        type=float,
        help="with --judgements: the grade at or above which a candidate counts as relevant "
        "for MAP (default: the upper median of the distinct grades, 3 on 1-5)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="with --judgements: bootstrap resamples of the queries for the CIs (default 1000)",
    )
    p.set_defaults(func=cmd_match)


def _read(args: argparse.Namespace, path: str) -> Any:
    from pairlm.search.corpus import read_corpus

    return read_corpus(
        path,
        id_column=getattr(args, "id_column", None),
        text_column=getattr(args, "text_column", None),
    )


def _info_table(info: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"index {info['path']}", show_header=False)
    for k in (
        "documents",
        "faiss_vectors",
        "tombstones",
        "index_type",
        "dim",
        "encoder_name",
        "encoder_version",
        "bytes_on_disk",
    ):
        t.add_row(k, str(info[k]))
    for k in ("consistent",):
        if k in info:
            t.add_row(k, str(info[k]))
    return t


@_errors
def cmd_index_build(args: argparse.Namespace) -> int:
    from pairlm.search.index import CorpusIndex, IndexConfig

    corpus = _read(args, args.corpus)
    cfg = IndexConfig(**({"hnsw_threshold": args.hnsw_threshold} if args.hnsw_threshold else {}))
    t0 = time.perf_counter()
    idx = CorpusIndex.build(
        args.out,
        corpus.ids,
        corpus.texts,
        encoder=args.encoder,
        config=cfg,
        overwrite=args.overwrite,
    )
    info = idx.info()
    idx.close()
    con = _console()
    con.print(_info_table(info))
    con.print(f"built in {time.perf_counter() - t0:.1f}s")
    return 0


@_errors
def cmd_index_add(args: argparse.Namespace) -> int:
    from pairlm.search.index import CorpusIndex

    corpus = _read(args, args.corpus)
    with CorpusIndex.open(args.index) as idx:
        n = idx.add(corpus.ids, corpus.texts)
        _console().print(f"added {n} documents; the index holds {len(idx)}")
    return 0


@_errors
def cmd_index_delete(args: argparse.Namespace) -> int:
    from pairlm.search.index import CorpusIndex

    ids = list(args.ids)
    if args.ids_file:
        ids += [x.strip() for x in Path(args.ids_file).read_text().splitlines() if x.strip()]
    if not ids:
        raise ValueError("give ids to delete (arguments or --ids-file)")
    with CorpusIndex.open(args.index, load_encoder=False) as idx:
        n = idx.delete(ids)
        _console().print(f"deleted {n} of {len(ids)} ids; the index holds {len(idx)}")
    return 0


@_errors
def cmd_index_info(args: argparse.Namespace) -> int:
    from pairlm.search.index import CorpusIndex

    with CorpusIndex.open(args.index, load_encoder=False) as idx:
        info = {**idx.info(), **idx.check()}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _console().print(_info_table(info))
    return 0 if info["consistent"] else 1


@_errors
def cmd_search(args: argparse.Namespace) -> int:
    from rich.table import Table

    from pairlm.search.index import CorpusIndex
    from pairlm.search.rerank import Reranker, search_and_rerank

    rr = Reranker(args.reranker, args.threshold) if args.reranker else None
    with CorpusIndex.open(args.index) as idx:
        results = search_and_rerank(
            idx, args.text, k=args.top_k, reranker=rr, threshold=args.threshold, keep_below=True
        )
    con = _console()
    for q, hits in zip(args.text, results):
        rows = [h.to_dict() for h in hits]
        if rr is not None:
            for row in rows:
                row["duplicate"] = (row["probability"] or 0.0) >= rr.threshold
        if args.json:
            print(json.dumps({"query": q, "hits": rows}, ensure_ascii=False))
            continue
        t = Table(title=q)
        t.add_column("#", justify="right")
        t.add_column("id")
        t.add_column("cosine", justify="right")
        if rr is not None:
            t.add_column(f"P(dup) ≥ {rr.threshold:.2f}", justify="right")
        t.add_column("text")
        for r, h in enumerate(rows, 1):
            cells = [str(r), h["doc_id"], f"{h['score']:.3f}"]
            if rr is not None:
                cells.append(f"{h['probability']:.3f}" + (" dup" if h["duplicate"] else ""))
            t.add_row(*cells, h["text"])
        con.print(t)
    return 0


@_errors
def cmd_mine(args: argparse.Namespace) -> int:
    from pairlm.search.mining import mine_index, mine_pairs, write_pairs
    from pairlm.search.rerank import Reranker

    if args.backend == "ray" and not args.reranker:
        raise SystemExit("error: --backend ray scores with a --reranker; give one")
    rr: Reranker | None = None
    if args.reranker and args.backend == "ray":
        from pairlm.search.ray_rerank import RayReranker

        rr = RayReranker(args.reranker, args.threshold, actors=args.actors, address=args.address)
    elif args.reranker:
        rr = Reranker(args.reranker, args.threshold)
    kw = {
        "k": args.neighbours,
        "floor": args.floor,
        "reranker": rr,
        "threshold": args.threshold,
        "nprobe": args.nprobe,
    }
    t0 = time.perf_counter()
    if args.index:
        from pairlm.search.index import CorpusIndex

        with CorpusIndex.open(args.index, load_encoder=False) as idx:
            pairs = mine_index(idx, **kw)
    else:
        from pairlm.models.encoders import encode_unique, load_sentence_encoder

        corpus = _read(args, args.corpus)
        emb = encode_unique(load_sentence_encoder(args.encoder), corpus.texts)
        pairs = mine_pairs(corpus.ids, corpus.texts, emb, **kw)
    write_pairs(pairs, args.out)
    from rich.table import Table

    t = Table(title=f"{len(pairs)} pairs → {args.out} ({time.perf_counter() - t0:.1f}s)")
    for c in ("id_a", "id_b", "cosine", "P(dup)", "text_a", "text_b"):
        t.add_column(c)
    for q in pairs[:10]:
        t.add_row(
            q.id_a,
            q.id_b,
            f"{q.similarity:.3f}",
            "" if q.probability is None else f"{q.probability:.3f}",
            q.text_a[:60],
            q.text_b[:60],
        )
    _console().print(t)
    return 0


def _report_path(out: str) -> Path:
    p = Path(out)
    return p.with_name(p.stem + ".metrics.json")


def _metrics_table(report: dict[str, Any], path: Path) -> Any:
    from rich.table import Table

    j = report["judgements"]
    t = Table(title=f"{j['pairs']} judged pairs, {j['queries']} queries → {path}")
    for c in ("metric", "mean", "95% CI", "queries"):
        t.add_column(c)
    for name, m in report["metrics"].items():
        ci = m["ci95"]
        t.add_row(
            name,
            "" if m["mean"] is None else f"{m['mean']:.3f}",
            "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]",
            str(m["queries"]),
        )
    return t


@_errors
def cmd_match(args: argparse.Namespace) -> int:
    from pairlm.models.encoders import load_sentence_encoder
    from pairlm.search.judge import read_judgements, write_report
    from pairlm.search.matching import match, match_and_evaluate, write_matches
    from pairlm.search.rerank import Reranker

    if args.overlap is not None and not 0 <= args.overlap < args.max_words:
        raise ValueError(
            f"--overlap must be at least 0 and below --max-words ({args.max_words}), "
            f"got {args.overlap}"
        )
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be at least 0, got {args.bootstrap}")
    q = _read(args, args.queries)
    c = _read(args, args.candidates)
    judgements = read_judgements(args.judgements) if args.judgements else None
    if judgements is not None:  # before anything is embedded
        judgements.check_ids(
            q.profiles or q.ids,
            c.profiles or c.ids,
            f"--queries {q.source}",
            f"--candidates {c.source}",
        )
    rr = Reranker(args.reranker) if args.reranker else None
    t0 = time.perf_counter()
    common: dict[str, Any] = {
        "encoder": load_sentence_encoder(args.encoder),
        "k": args.top_k,
        "pool": args.pool,
        "top_n": args.top_n,
        "max_words": args.max_words,
        "overlap": args.overlap,
        "reranker": rr,
        "query_profiles": q.profiles,
        "candidate_profiles": c.profiles,
    }
    if judgements is None:
        res = match(q.ids, q.texts, c.ids, c.texts, **common)
    else:
        res, report = match_and_evaluate(
            q.ids,
            q.texts,
            c.ids,
            c.texts,
            judgements,
            **common,
            relevant_grade=args.relevant_grade,
            n_boot=args.bootstrap,
        )
    n = write_matches(res, args.out)
    con = _console()
    n_q, n_c = len(set(q.profiles or q.ids)), len(set(c.profiles or c.ids))
    con.print(
        f"{n_q} queries ({len(q)} documents) × {n_c} candidates ({len(c)} documents), every "
        f"passage pair scored: {n} rows → {args.out} ({time.perf_counter() - t0:.1f}s)"
    )
    if judgements is not None:
        path = write_report(report, _report_path(args.out))
        con.print(_metrics_table(report, path))
    return 0
