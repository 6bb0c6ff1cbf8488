"""Choosing `pairlm match`'s defaults (pool, --top-n, --max-words) on data of our own.

No public matching data with multi-document profiles and graded judgements is on this
machine, so the task is built from real graded sentence pairs: the STS Benchmark (score 0-5).
One task per STS-B split (in two variants), the defaults chosen on the `train` tasks alone
(the best nDCG@10 averaged over the variants), then reported on the `dev` and `test` tasks,
which played no part in the choice.

How a task is built (seeded):

- Candidate profiles (60 for train, 30 for dev and test, which are a quarter of its size),
  each of 1-4 documents, each document 8-30 sentences (both sentences of 4-15 pairs no query
  uses) of one STS-B source (headlines, MSRpar, MSRvid, images, forums, ...): a profile writes
  about one kind of thing, as a reviewer works in one area.
- Queries (120 for train, 60 for dev and test), each the first sentences of 3-6 pairs of one
  source, as one paragraph.
- The pairs' second sentences (each a paraphrase of a query sentence, as close as its STS
  score says) are planted in two profiles of the query's source: all but one or two in the
  main profile, the rest in a second one. In the main profile they sit together as one
  paragraph of one document (half the queries) or are spread over its documents, one here,
  one there (the other half): the case of a reviewer whose several papers each touch the
  manuscript.
- Two variants of each task, the same but for where the paraphrases sit: ``sentences``
  (above: relevance is a sentence here and there, which favours short passages) and
  ``paragraphs`` (every query's paraphrases sit together, as a paragraph, in both profiles:
  relevance is a passage of 3-6 sentences).
- The grade of (query, profile) is the rounded mean, over the query's sentences, of the STS
  score of the paraphrase planted there (0 when none is): 0-5. Every (query, profile) pair
  is judged.

The choice: the best nDCG@10 on the train tasks (averaged over the two variants) among
passage budgets of at least `MIN_WORDS` (see there). Measures: nDCG@10, MAP@10 at grade >= 2 and the pairwise loss, with bootstrap
95% CIs over queries (pairlm.search.judge). Embeddings are cached per text inside one run.

    .venv/bin/python benchmarks/matching_defaults.py [--data DIR] [--out results/matching-defaults]

Prints one JSON object (and writes it as matching_defaults.json under --out).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BUDGETS = (16, 32, 48, 64, 96, 128, 160)
VARIANTS = ("sentences", "paragraphs")
MIN_WORDS = 32
"""The shortest passage budget the choice may take: about two sentences. On these tasks,
whose documents and queries are runs of unrelated sentences, shorter is better down to one
sentence (16 words); on real documents a one-sentence passage loses its context and lets
generic sentences match each other, so the choice stops at two."""
POOLS = (("max", 1), ("mean", 2), ("mean", 3), ("mean", 5))
K = 10


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("PAIRLM_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_sts(path: Path) -> list[tuple[str, float, str, str]]:
    """(source, score, sentence1, sentence2) rows; the first 7 fields of each row."""
    out = []
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 7:
                out.append((row[1], float(row[4]), row[5].strip(), row[6].strip()))
    return out


def build_task(
    rows, seed: int, n_profiles: int, n_queries: int, paragraphs: bool
) -> dict[str, Any]:
    """Candidates (profile, doc id, text), queries (id, text) and graded judgements.
    `paragraphs`: every query's paraphrases sit together in each profile (else half the
    queries' main-profile paraphrases, and every second profile's, are spread)."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_source.setdefault(r[0], []).append(i)
    sources = sorted(by_source)
    weights = np.array([len(by_source[s]) for s in sources], dtype=float)
    for s in sources:
        rng.shuffle(by_source[s])

    def take(src: str) -> int:  # an unused pair of the source (of the largest one when spent)
        if not by_source[src]:
            src = max(by_source, key=lambda s: len(by_source[s]))
        return by_source[src].pop()

    # profiles: a source each (in proportion to the source's size), 1-4 documents
    prof_source = [str(s) for s in rng.choice(sources, n_profiles, p=weights / weights.sum())]
    docs: list[list[list[str]]] = [[[] for _ in range(rng.integers(1, 5))] for _ in prof_source]
    queries, plants, grades = [], [], {}
    for qi in range(n_queries):
        src = str(rng.choice([s for s in sources if prof_source.count(s) >= 2]))
        homes = rng.choice([p for p, s in enumerate(prof_source) if s == src], 2, replace=False)
        m = int(rng.integers(3, 7))
        pairs = [take(src) for _ in range(m)]
        queries.append((f"q{qi}", " ".join(rows[i][2] for i in pairs)))
        n_second = int(rng.integers(1, 3))
        together = bool(rng.random() < 0.5)  # drawn in both variants: the same tasks otherwise
        score_in = {int(homes[0]): 0.0, int(homes[1]): 0.0}
        for j, i in enumerate(pairs):
            home = int(homes[1] if j >= m - n_second else homes[0])
            score_in[home] += rows[i][1]
            placed = paragraphs or (together and home == homes[0])
            plants.append((home, qi, placed, rows[i][3]))
        for p, s in score_in.items():
            grades[(f"q{qi}", f"p{p}")] = math.floor(s / m + 0.5)
    for p, src in enumerate(prof_source):  # fillers: both sentences of unused pairs
        for d in docs[p]:
            for _ in range(int(rng.integers(4, 16))):
                d.extend(rows[take(src)][2:4])
    _plant(docs, plants, rng)
    cands = [
        (f"p{p}", f"p{p}-d{j}", " ".join(d)) for p, ds in enumerate(docs) for j, d in enumerate(ds)
    ]
    judged = [
        (q, f"p{p}", grades.get((q, f"p{p}"), 0)) for q, _ in queries for p in range(len(docs))
    ]
    return {"candidates": cands, "queries": queries, "judgements": judged}


def _plant(docs, plants, rng) -> None:
    """Put each paraphrase in its profile: a query's main-profile paraphrases `together` as
    one paragraph of one document, else each in a document of its own choosing."""
    paragraph: dict[tuple[int, int], list[str]] = {}
    for home, qi, together, sent in plants:
        if together:
            paragraph.setdefault((home, qi), []).append(sent)
        else:
            d = docs[home][rng.integers(len(docs[home]))]
            d.insert(int(rng.integers(len(d) + 1)), sent)
    for (home, _), sents in paragraph.items():
        d = docs[home][rng.integers(len(docs[home]))]
        d.insert(int(rng.integers(len(d) + 1)), " ".join(sents))


class CachedEncoder:
    """A sentence encoder that embeds each distinct text once per run."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.encoder.get_sentence_embedding_dimension())

    def encode(self, texts, batch_size=64, show_progress_bar=False, **kw):
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            t0 = time.perf_counter()
            emb = self.encoder.encode(todo, batch_size=batch_size, show_progress_bar=False, **kw)
            self.seconds += time.perf_counter() - t0
            self.cache.update(zip(todo, emb))
        return np.stack([self.cache[t] for t in texts])


def run_task(task: dict[str, Any], enc: CachedEncoder, n_boot: int) -> dict[str, Any]:
    from pairlm.search.judge import Judgements
    from pairlm.search.matching import match_and_evaluate

    j = Judgements.from_rows(task["judgements"])
    cands = task["candidates"]
    out = {}
    for budget in BUDGETS:
        for pool, top_n in POOLS:
            _, report = match_and_evaluate(
                [q for q, _ in task["queries"]],
                [t for _, t in task["queries"]],
                [d for _, d, _ in cands],
                [t for _, _, t in cands],
                j,
                encoder=enc,
                k=K,
                pool=pool,  # type: ignore[arg-type]
                top_n=top_n,
                max_words=budget,
                relevant_grade=2,
                n_boot=n_boot,
                candidate_profiles=[p for p, _, _ in cands],
            )
            name = f"{pool}" + (f"-top{top_n}" if pool == "mean" else "") + f"-w{budget}"
            out[name] = {
                m: {"mean": round(v["mean"], 4), "ci95": [round(x, 4) for x in v["ci95"]]}
                for m, v in report["metrics"].items()
            }
    return out


def choose(result: dict[str, Any]) -> dict[str, Any]:
    """The configuration with the best train nDCG@10 averaged over the variants, among passage
    budgets of at least MIN_WORDS; where it ranks on dev and test."""
    key = f"ndcg@{K}"

    def mean_ndcg(split: str, name: str) -> float:
        return float(np.mean([result[v][split][name][key]["mean"] for v in VARIANTS]))

    names = list(result[VARIANTS[0]]["train"])
    allowed = [n for n in names if int(n.rsplit("-w", 1)[1]) >= MIN_WORDS]
    best = max(allowed, key=lambda n: mean_ndcg("train", n))
    out: dict[str, Any] = {
        "rule": f"the highest {key} on the train tasks, averaged over the variants, among "
        f"passage budgets of at least {MIN_WORDS} words",
        "chosen": best,
        "train_mean_ndcg": round(mean_ndcg("train", best), 4),
        "best_of_all_on_train": max(names, key=lambda n: mean_ndcg("train", n)),
    }
    for split in ("dev", "test"):
        order = sorted(names, key=lambda n: -mean_ndcg(split, n))
        out[split] = {
            "rank": order.index(best) + 1,
            "of": len(order),
            "best": order[0],
            "mean_ndcg": round(mean_ndcg(split, best), 4),
            "best_mean_ndcg": round(mean_ndcg(split, order[0]), 4),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data")
    ap.add_argument("--encoder", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/matching-defaults")
    args = ap.parse_args()
    import torch

    from pairlm.models.encoders import load_sentence_encoder

    torch.set_num_threads(args.threads)
    enc = CachedEncoder(load_sentence_encoder(args.encoder))
    d = data_dir(args.data) / "stsb"
    result: dict[str, Any] = {
        "k": K,
        "seed": args.seed,
        "encoder": args.encoder or "all-MiniLM-L6-v2",
        "command": "benchmarks/matching_defaults.py " + " ".join(sys.argv[1:]),
    }
    for variant in VARIANTS:
        result[variant] = {}
        for split in ("train", "dev", "test"):
            size = (60, 120) if split == "train" else (30, 60)
            rows = read_sts(d / f"sts-{split}.csv")
            task = build_task(rows, args.seed, *size, paragraphs=variant == "paragraphs")
            t0 = time.perf_counter()
            result[variant][split] = run_task(task, enc, args.bootstrap)
            info = {
                "queries": len(task["queries"]),
                "profiles": len({p for p, _, _ in task["candidates"]}),
                "documents": len(task["candidates"]),
                "words": sum(len(t.split()) for _, _, t in task["candidates"]),
                "graded_pairs": sum(g > 0 for _, _, g in task["judgements"]),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            result.setdefault("tasks", {})[f"{variant}/{split}"] = info
            print(f"{variant}/{split}: {info}", file=sys.stderr)

    result["choice"] = choose(result)
    result["encode_seconds"] = round(enc.seconds, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "matching_defaults.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
