"""Benchmark: load and validate a full-size QQP file in the original Quora format.

Generates a synthetic 404,290-row `quora_duplicate_questions.tsv` (header, CSV-quoted
fields, the known defects sprinkled in: quoted fields with embedded newlines, empty
question2, bad labels, exact duplicate pairs, a self-pair) into a temporary directory, then
in fresh child processes:

- ours: `pairlm.data.read_pairs(path)` (format detection + validation + side file);
- baseline: plain `pandas.read_csv(path, sep="\\t")` of the same file (parsing only).

Peak memory is each child's `resource.getrusage(RUSAGE_SELF).ru_maxrss` (peak resident
set size of the whole process, interpreter and imports included). Prints one JSON object.

    .venv/bin/python benchmarks/load_qqp.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_ROWS = 404_290
TARGET_SECONDS = 10.0
TARGET_MB = 1500.0

_EMBEDDED_NEWLINE_ROWS = 11
_EMPTY_Q2_ROWS = 2
_BAD_LABELS = ("2", "", "yes", "-1", "0.5")
_DUPLICATE_ROWS = 25


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def generate(path: Path, n_rows: int = N_ROWS, seed: int = 0) -> dict[str, int]:
    """Write a Quora-format file; return the counts of the defects put in."""
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "pe", "da", "qu", "zo", "fa", "hi"]
    vocab = ["".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(20_000)]
    starts = ["What is", "How do I", "Why does", "Which is the best", "Can I", "Is it true that"]
    questions: list[str] = []

    def new_question() -> int:
        words = rng.choices(vocab, k=rng.randint(4, 18))
        if rng.random() < 0.01:
            words[1] = f'"{words[1]}"'  # quotes make the writer quote the field
        questions.append(f"{rng.choice(starts)} {' '.join(words)}?")
        return len(questions)  # qids are 1-based

    n_special = _EMBEDDED_NEWLINE_ROWS + _EMPTY_Q2_ROWS + len(_BAD_LABELS) + _DUPLICATE_ROWS + 1
    if n_rows < 2 * n_special:
        raise SystemExit(f"--rows must be at least {2 * n_special}")
    special = rng.sample(range(n_special, n_rows), n_special)
    nl_rows = set(special[:_EMBEDDED_NEWLINE_ROWS])
    k = _EMBEDDED_NEWLINE_ROWS
    empty_rows = set(special[k : k + _EMPTY_Q2_ROWS])
    k += _EMPTY_Q2_ROWS
    bad_rows = dict(zip(special[k : k + len(_BAD_LABELS)], _BAD_LABELS))
    k += len(_BAD_LABELS)
    dup_rows = set(special[k : k + _DUPLICATE_ROWS])
    self_row = special[-1]

    rows: list[tuple[int, int, int, int]] = []  # id, qid1, qid2, label
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["id", "qid1", "qid2", "question1", "question2", "is_duplicate"])
        for i in range(n_rows):
            if i in dup_rows:
                _, q1, q2, lab = rows[rng.randrange(len(rows))]
            else:
                q1 = (
                    new_question()
                    if rng.random() < 0.7 or not questions
                    else rng.randint(1, len(questions))
                )
                q2 = new_question()
                lab = int(rng.random() < 0.369)
            if i == self_row:
                q2 = q1
            t1, t2 = questions[q1 - 1], questions[q2 - 1]
            if i in nl_rows:
                t1 = t1.replace(" ", "\n", 1)
            if i in empty_rows:
                t2 = ""
            label = bad_rows.get(i, str(lab))
            rows.append((i, q1, q2, lab))
            w.writerow([i, q1, q2, t1, t2, label])
    return {
        "embedded_newline": _EMBEDDED_NEWLINE_ROWS,
        "empty_text": _EMPTY_Q2_ROWS,
        "bad_label": len(_BAD_LABELS),
        "duplicate_pair_at_most": _DUPLICATE_ROWS,
        "self_pair": 1,
    }


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _child(kind: str, path: str) -> None:
    before = _peak_mb()
    if kind == "ours":
        from pairlm.data.readers import read_pairs

        cpu0, t0 = _cpu(), time.perf_counter()
        ds = read_pairs(path)
        secs = time.perf_counter() - t0
        rep = ds.report
        assert rep is not None
        out = {
            "seconds": secs,
            "rows": rep.rows_read,
            "kept": rep.rows_kept,
            "format": rep.format,
            "dropped": dict(rep.dropped),
            "repaired": dict(rep.repaired),
        }
    else:
        import pandas as pd

        cpu0, t0 = _cpu(), time.perf_counter()
        df = pd.read_csv(path, sep="\t")
        secs = time.perf_counter() - t0
        out = {"seconds": secs, "rows": len(df)}
    out["cpu_seconds"] = _cpu() - cpu0
    out["peak_rss_mb"] = _peak_mb()
    out["rss_before_load_mb"] = before
    print(json.dumps(out))


def _run_child(args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=N_ROWS)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--generate", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.generate:
        print(json.dumps(generate(Path(args.generate), args.rows)))
        return
    # Every step runs in its own process: Linux keeps a parent's peak RSS in a child's
    # ru_maxrss across fork+exec, so the parent stays small and each figure is the child's own.
    with tempfile.TemporaryDirectory(prefix="pairlm-bench-") as tmp:
        path = Path(tmp) / "quora_duplicate_questions.tsv"
        env = dict(os.environ, PAIRLM_CACHE_DIR=str(Path(tmp) / "cache"))
        src = Path(__file__).resolve().parents[1] / "src"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
        t0 = time.perf_counter()
        planted = _run_child(["--generate", str(path), "--rows", str(args.rows)], env)
        gen_s = time.perf_counter() - t0
        file_mb = path.stat().st_size / 2**20
        ours = _run_child(["--child", "ours", str(path)], env)
        base = _run_child(["--child", "pandas", str(path)], env)
    result = {
        "benchmark": "load_qqp",
        "rows": ours["rows"],
        "kept": ours["kept"],
        "format": ours["format"],
        "seconds": round(ours["seconds"], 3),
        "rows_per_s": round(ours["rows"] / ours["seconds"]),
        "cpu_seconds": round(ours["cpu_seconds"], 3),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "peak_rss_method": "resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh child process",
        "rss_before_load_mb": round(ours["rss_before_load_mb"], 1),
        "target_seconds": TARGET_SECONDS,
        "target_mb": TARGET_MB,
        "meets_targets": ours["seconds"] < TARGET_SECONDS and ours["peak_rss_mb"] < TARGET_MB,
        "dropped": ours["dropped"],
        "repaired": ours["repaired"],
        "planted_defects": planted,
        "baseline": {
            "what": "pandas.read_csv(path, sep='\\t'), parsing only, no validation",
            "rows": base["rows"],
            "seconds": round(base["seconds"], 3),
            "rows_per_s": round(base["rows"] / base["seconds"]),
            "cpu_seconds": round(base["cpu_seconds"], 3),
            "peak_rss_mb": round(base["peak_rss_mb"], 1),
        },
        "ratio": round(ours["seconds"] / base["seconds"], 2),
        "ratio_what": "our seconds / baseline seconds (lower is better)",
        "cpu_ratio": round(ours["cpu_seconds"] / base["cpu_seconds"], 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "memory_ratio": round(ours["peak_rss_mb"] / base["peak_rss_mb"], 2),
        "file_mb": round(file_mb, 1),
        "generate_seconds": round(gen_s, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
