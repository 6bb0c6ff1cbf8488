"""Benchmark: speed and memory of the three neural baselines on QQP pairs, 2 torch threads.

For each family, in its own child process (so each peak-memory figure is that family's):

- `siamese-cnn`: training examples/s (pairs × epochs / fit time, GloVe loading and the
  per-epoch validation pass included) and scoring pairs/s (both orientations scored);
- `biencoder`: scoring pairs/s from a cold cache (encoding included), head training examples/s
  (encoding included), fine-tuning examples/s (MNRL, encoder forward+backward on both texts),
  and the encodings that encode-once saved: texts referenced by the pairs vs distinct texts
  encoded, on the benchmark pairs and on the whole file (counted, not encoded);
- `crossencoder`: full fine-tuning and LoRA training examples/s and scoring pairs/s with
  dynamic padding + length-sorted batches, against padding every batch to the longest pair of
  the data (in file order), same pairs, same run; ratio = dynamic / padded.

Peak memory: each child's `resource.getrusage(RUSAGE_SELF).ru_maxrss` (peak resident set
size of the whole process: interpreter, torch and the model included). Prints one JSON object.

    .venv/bin/python benchmarks/baselines.py [--data PATH] [--family NAME]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "qqp" / "glue-train-subset.tsv"
THREADS = 2
FAMILIES = ("siamese-cnn", "biencoder", "crossencoder")


def load(path: Path):  # -> PairDataset
    try:
        from pairlm.data.readers import read_pairs

        return read_pairs(path, side_file=None)
    except ImportError:
        import pandas as pd

        from pairlm.data.pairs import PairDataset

        df = pd.read_csv(
            path,
            sep="\t",
            header=None,
            names=range(6),
            quoting=csv.QUOTE_NONE,
            on_bad_lines="skip",
            dtype=str,
            keep_default_na=False,
        )
        df = df[df[5].isin(["0", "1"])]
        return PairDataset.from_pairs(
            df[3].tolist(),
            df[4].tolist(),
            df[5].astype(int).to_numpy(),
            id_a=df[1].tolist(),
            id_b=df[2].tolist(),
        )


def sample(ds, n: int, seed: int):
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(
        np.arange(len(ds)), train_size=n, random_state=seed, stratify=ds.label
    )
    return ds.subset(np.sort(idx))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------- families
def bench_siamese_cnn(ds) -> dict:
    from pairlm.models.siamese_cnn import SiameseCNNClassifier

    train, valid, test = sample(ds, 2000, 1), sample(ds, 200, 2), sample(ds, 1000, 3)
    epochs = 2
    m = SiameseCNNClassifier(epochs=epochs, patience=epochs, progress=False)
    _, fit_s = timed(lambda: m.fit(train, valid))
    _, score_s = timed(lambda: m.predict_proba(test))
    return {
        "train_pairs": len(train),
        "epochs": len(m.history_),
        "train_examples_per_s": round(len(train) * len(m.history_) / m.train_seconds_, 1),
        "fit_seconds": round(fit_s, 1),
        "score_pairs": len(test),
        "score_pairs_per_s": round(len(test) / score_s, 1),
        "note": "examples/s over the training steps; fit_seconds adds GloVe, vocabulary, validation",
    }


def bench_biencoder(ds) -> dict:
    from pairlm.models.biencoder import BiEncoderClassifier

    score = sample(ds, 400, 3)
    train, valid = sample(ds, 400, 1), sample(ds, 64, 2)
    # scoring from a cold cache: encoding each distinct text once, then cosine
    m = BiEncoderClassifier(mode="cosine", share_cache=False, progress=False)
    m.fit(valid, valid)
    before_req, before_comp = m.encodings_requested_, m.encodings_computed_
    _, score_s = timed(lambda: m.predict_proba(score))
    requested = m.encodings_requested_ - before_req
    computed = m.encodings_computed_ - before_comp
    # head training (logistic regression on frozen embeddings), cold cache
    h = BiEncoderClassifier(mode="head", share_cache=False, progress=False)
    _, head_s = timed(lambda: h.fit(train, valid))
    # fine-tuning: MNRL on duplicate pairs, one epoch (cosine scoring after)
    n_ft = 64
    f = BiEncoderClassifier(
        mode="finetune", max_train_pairs=n_ft, share_cache=False, progress=False
    )
    f.fit(train, valid)
    texts, _, _ = ds.texts()
    return {
        "score_pairs": len(score),
        "score_pairs_per_s_cold_cache": round(len(score) / score_s, 1),
        "encodings_naive": requested,
        "encodings_done": computed,
        "encodings_saved": requested - computed,
        "encode_once_ratio": round(requested / max(1, computed), 3),
        "whole_file": {
            "pairs": len(ds),
            "texts_referenced": 2 * len(ds),
            "distinct_texts": len(texts),
            "encodings_saved": 2 * len(ds) - len(texts),
            "ratio": round(2 * len(ds) / len(texts), 3),
        },
        "head_train_pairs": len(train),
        "head_train_examples_per_s": round(len(train) / head_s, 1),
        "finetune_pairs": n_ft,
        "finetune_examples_per_s": round(f.finetune_pairs_ / f.finetune_seconds_, 1),
        "note": "head training time includes encoding train+valid texts from a cold cache",
    }


def bench_crossencoder(ds) -> dict:
    import numpy as np

    from pairlm.models.crossencoder import CrossEncoderClassifier, _Tokenized

    train, valid, score = sample(ds, 128, 1), sample(ds, 32, 2), sample(ds, 300, 3)
    out: dict = {"train_pairs": len(train), "score_pairs": len(score)}

    def fit_rate(**kw) -> tuple[CrossEncoderClassifier, float]:
        m = CrossEncoderClassifier(epochs=1, max_train_pairs=None, progress=False, **kw)
        m.fit(train, valid)
        return m, m.train_examples_ / m.train_seconds_  # training steps only

    m_dyn, tr_dyn = fit_rate(dynamic_padding=True)
    _, tr_pad = fit_rate(dynamic_padding=False)
    _, tr_lora = fit_rate(finetune="lora")
    _, s_dyn = timed(lambda: m_dyn.predict_proba(score))
    m_dyn.config = m_dyn.config.replace(dynamic_padding=False)
    _, s_pad = timed(lambda: m_dyn.predict_proba(score))
    tok = _Tokenized(m_dyn.tokenizer_, ds, m_dyn.config.max_length)
    out.update(
        longest_pair_tokens_in_data=int(tok.lengths.max()),
        mean_pair_tokens_in_data=round(float(np.mean(tok.lengths)), 1),
        train_examples_per_s_dynamic=round(tr_dyn, 1),
        train_examples_per_s_padded=round(tr_pad, 1),
        train_ratio=round(tr_dyn / tr_pad, 2),
        train_examples_per_s_lora_dynamic=round(tr_lora, 1),
        score_pairs_per_s_dynamic=round(len(score) / s_dyn, 1),
        score_pairs_per_s_padded=round(len(score) / s_pad, 1),
        score_ratio=round(s_pad / s_dyn, 2),
        note="padded = every batch padded to the longest pair of the data (capped at max_length), file order",
    )
    return out


def child(family: str, data: Path) -> None:
    import torch

    torch.set_num_threads(THREADS)
    ds = load(data)
    fn = {
        "siamese-cnn": bench_siamese_cnn,
        "biencoder": bench_biencoder,
        "crossencoder": bench_crossencoder,
    }[family]
    result, seconds = timed(lambda: fn(ds))
    result["seconds"] = round(seconds, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("PAIRLM_QQP", DEFAULT_DATA)))
    ap.add_argument("--family", choices=FAMILIES)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"QQP file not found: {args.data} (pass --data)")
    if args.child:
        child(args.family, args.data)
        return
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": str(THREADS),
        "TOKENIZERS_PARALLELISM": "false",
    }
    results: dict = {
        "data": str(args.data),
        "torch_threads": THREADS,
        "peak_memory": "ru_maxrss of each family's own child process (whole process)",
    }
    for fam in [args.family] if args.family else FAMILIES:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--family", fam, "--data", str(args.data)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            results[fam] = {"error": proc.stderr.strip().splitlines()[-5:]}
        else:
            results[fam] = json.loads(lines[-1])
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
