"""GLUE task directories (`read_glue_dir`: QQP; MRPC in GLUE's layout or the original
release split by ``dev_ids.tsv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.data.readers.api import read_pairs
from pairlm.data.validation import DataError


def read_glue_dir(
    directory: str | Path, task: Literal["qqp", "mrpc"] = "qqp", **kw: Any
) -> dict[str, PairDataset]:
    """Read a GLUE task directory into ``{"train", "dev", "test"}`` (those present).

    QQP: ``train.tsv``, ``dev.tsv`` (labelled) and ``test.tsv`` (unlabelled), also inside a
    ``QQP/`` subfolder. MRPC: GLUE's ``train.tsv``/``dev.tsv``/``test.tsv`` when present, else
    the original release (``msr_paraphrase_train.txt`` split by ``dev_ids.tsv`` into
    train/dev, ``msr_paraphrase_test.txt`` as a labelled test). ``kw`` go to `read_pairs`.
    """
    kw.pop("fmt", None)
    kw.pop("name", None)
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory")
    if task not in ("qqp", "mrpc"):
        raise ValueError(f"task must be 'qqp' or 'mrpc', got {task!r}")
    sub = d / task.upper()
    if not (d / "train.tsv").exists() and sub.is_dir():
        d = sub
    out: dict[str, PairDataset] = {}
    for split in ("train", "dev", "test"):
        f = d / f"{split}.tsv"
        if f.is_file():
            out[split] = read_pairs(f, "auto", name=f"{task}-{split}", **kw)
    if task == "mrpc" and not out:
        out = _read_mrpc_release(d, **kw)
    if "train" not in out and "dev" not in out:
        expected = (
            "train.tsv, dev.tsv, test.tsv"
            if task == "qqp"
            else "train.tsv/dev.tsv/test.tsv or msr_paraphrase_train.txt + dev_ids.tsv"
        )
        raise DataError(f"{directory}: no GLUE {task.upper()} files found (expected {expected})")
    return out


def _read_mrpc_release(d: Path, **kw: Any) -> dict[str, PairDataset]:
    train_f, test_f, dev_f = (
        d / "msr_paraphrase_train.txt",
        d / "msr_paraphrase_test.txt",
        d / "dev_ids.tsv",
    )
    out: dict[str, PairDataset] = {}
    if not train_f.is_file():
        return out
    full = read_pairs(train_f, "mrpc", name="mrpc-train", **kw)
    if dev_f.is_file():
        dev_ids = set()
        for k, line in enumerate(dev_f.read_text(encoding="utf-8-sig").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise DataError(f"{dev_f}, line {k}: expected two ids, got {line!r}")
            dev_ids.add((parts[0], parts[1]))
        is_dev = np.fromiter(
            ((a, b) in dev_ids for a, b in zip(full.id_a, full.id_b)), dtype=bool, count=len(full)
        )
        for split, mask in (("train", ~is_dev), ("dev", is_dev)):
            sub = full.subset(mask, name=f"mrpc-{split}")
            out[split] = PairDataset(
                sub.pair_id,
                sub.text_a,
                sub.text_b,
                sub.label,
                sub.id_a,
                sub.id_b,
                sub.name,
                full.report,
            )
    else:
        out["train"] = full
    if test_f.is_file():
        out["test"] = read_pairs(test_f, "mrpc", name="mrpc-test", **kw)
    return out
