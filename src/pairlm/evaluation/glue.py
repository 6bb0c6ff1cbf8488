"""GLUE mode: train on `train.tsv`, pick the threshold on a held-out part of it, score
`dev.tsv` (accuracy and F1, as the GLUE leaderboard reports QQP and MRPC), predict `test.tsv`
and write the file the GLUE server takes (`QQP.tsv` / `MRPC.tsv`).

The submission has the header ``index<TAB>prediction`` and one line per test pair, in test
order, with 0/1 predictions (the layout of the GLUE baseline and of transformers'
`run_glue.py`). The GLUE server wants a zip of every task's file; pairlm writes this task's.

Dev and test are read without dropping self-pairs or repeated pairs (the server scores every
row); a test row the reader must drop (e.g. an empty question) still gets a line, predicted
with the training set's majority class, and is counted in the results as `test_filled`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.data.validation import DataError

log = logging.getLogger(__name__)

Task = Literal["qqp", "mrpc"]
SUBMISSION_NAMES: dict[str, str] = {"qqp": "QQP.tsv", "mrpc": "MRPC.tsv"}
SUBMISSION_HEADER = "index\tprediction"


@dataclass
class GlueResult:
    """What `run_glue` measured and wrote."""

    task: str
    family: str
    config: dict[str, Any]
    n_train: int
    n_valid: int
    threshold: float
    dev: dict[str, float] = field(default_factory=dict)
    test_labelled: dict[str, float] = field(default_factory=dict)
    """Metrics on test.tsv when it carries labels (MRPC's original release does)."""
    n_test: int = 0
    test_filled: int = 0
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    submission: str = ""
    model_dir: str = ""
    dev_predictions: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _test_indices(test: PairDataset) -> tuple[np.ndarray, int]:
    """(index of each test pair in the submission, number of lines the submission needs).

    GLUE test files carry an `id` (QQP) or `index` (MRPC) column numbered 0..n-1: those are
    used. The original MRPC test release has none: its rows, in order, are GLUE's indices,
    which only holds when no row was dropped."""
    rows_read = int(test.report.rows_read) if test.report is not None else len(test)
    ids = [str(p) for p in test.pair_id]
    if ids and all(p.isdigit() for p in ids):
        idx = np.asarray([int(p) for p in ids], dtype=np.int64)
        if len(np.unique(idx)) != len(idx):
            raise DataError(f"{test.name}: repeated test ids; cannot build a GLUE submission")
        return idx, max(rows_read, int(idx.max()) + 1)
    dropped = int(test.report.rows_dropped) if test.report is not None else 0
    if dropped:
        raise DataError(
            f"{test.name}: {dropped} test row(s) were dropped and the file has no index "
            "column, so the submission lines cannot be aligned with GLUE's indices"
        )
    return np.arange(len(test), dtype=np.int64), len(test)


def write_submission(
    path: Path, index: np.ndarray, pred: np.ndarray, n_lines: int, fill: int = 0
) -> int:
    """Write `index<TAB>prediction` for indices 0..n_lines-1 (rows not in `index` get
    `fill`); returns how many were filled."""
    full = np.full(n_lines, int(fill), dtype=np.int64)
    have = np.zeros(n_lines, dtype=bool)
    full[index] = pred
    have[index] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(SUBMISSION_HEADER + "\n")
        for i, y in enumerate(full):
            fh.write(f"{i}\t{int(y)}\n")
    tmp.replace(path)
    return int((~have).sum())


def read_glue_task(glue_dir: str | Path, task: Task, **read_kw: Any) -> dict[str, PairDataset]:
    """The train/dev/test splits of a GLUE task directory, read for GLUE evaluation (no
    self-pair or repeated-pair dropping; the server scores every row)."""
    from pairlm.data.readers import read_glue_dir

    kw = {"drop_self_pairs": False, "drop_duplicates": False, **read_kw}
    splits = read_glue_dir(glue_dir, task, **kw)
    if "train" not in splits:
        raise DataError(f"{glue_dir}: no train.tsv for GLUE {task.upper()}")
    if not splits["train"].has_labels:
        raise DataError(f"{glue_dir}: train.tsv of {task.upper()} has unlabelled rows")
    return splits


def run_glue(
    task: Task,
    glue_dir: str | Path,
    family: str,
    config: dict[str, Any] | None,
    out_dir: str | Path,
    *,
    valid_fraction: float = 0.1,
    max_train: int | None = None,
    seed: int = 0,
    save_model: bool = True,
    **read_kw: Any,
) -> GlueResult:
    """Train `family` on the task's train.tsv (a stratified `valid_fraction` held out for the
    threshold and early stopping), report dev accuracy/F1, write the test submission.

    Writes into `out_dir`: `QQP.tsv`/`MRPC.tsv` (the submission), `dev_predictions.tsv`,
    `glue_results.json` and, with `save_model`, the model under `model/`.
    """
    from pairlm.data.splits import inner_validation_split, stratified_subsample
    from pairlm.models.registry import create

    task = task.lower()  # type: ignore[assignment]
    if task not in SUBMISSION_NAMES:
        raise ValueError(f"task must be one of {', '.join(SUBMISSION_NAMES)}, got {task!r}")
    config = dict(config or {})
    model = create(family, config)  # validates the config before reading any data
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits = read_glue_task(glue_dir, task, **read_kw)
    train = splits["train"]
    if max_train is not None and max_train < len(train):
        train = train.subset(stratified_subsample(train, max_train, seed))
    fit_idx, val_idx = inner_validation_split(train.label, valid_fraction, seed)
    fit_part, valid_part = train.subset(fit_idx), train.subset(val_idx)
    log.info(
        "GLUE %s: training %s on %d pairs, threshold on %d held-out train pairs",
        task,
        family,
        len(fit_part),
        len(valid_part),
    )
    held = [s for s in (splits.get("dev"), splits.get("test")) if s is not None and len(s)]
    if held:  # a family that makes its own training pairs (distill) leaves these out
        from pairlm.data.pairs import concat

        model.hold_out(concat(held, name=f"{task}-dev+test"))
    model.fit(fit_part, valid_part)
    fit_s = model.fit_seconds_
    thr = float(model.threshold_)
    result = GlueResult(
        task, family, model.config.to_dict(), len(fit_part), len(valid_part), thr, fit_seconds=fit_s
    )
    pred_s = 0.0
    dev = splits.get("dev")
    if dev is not None and len(dev):
        pred_s += _score_dev(model, dev, out, result)
    else:
        log.warning("%s: no dev.tsv; no dev scores", glue_dir)
    test = splits.get("test")
    if test is None:
        log.warning("%s: no test.tsv; no submission written", glue_dir)
    else:
        majority = int(train.y.mean() >= 0.5)
        pred_s += _write_test(model, test, out / SUBMISSION_NAMES[task], majority, result)
    result.predict_seconds = pred_s
    if save_model:
        model.save(out / "model")
        result.model_dir = str(out / "model")
    (out / "glue_results.json").write_text(
        json.dumps(result.to_dict(), indent=2, sort_keys=True, default=float), encoding="utf-8"
    )
    return result


def _score_dev(model: Any, dev: PairDataset, out: Path, result: GlueResult) -> float:
    """Score dev.tsv: its metrics (when labelled) into `result`, every pair's P(match) and
    prediction into `out/dev_predictions.tsv`. Returns the scoring seconds."""
    from pairlm.evaluation.metrics import binary_metrics

    thr = result.threshold
    t0 = time.perf_counter()
    p_dev = np.asarray(model.predict_proba(dev), dtype=np.float64)
    seconds = time.perf_counter() - t0
    if dev.has_labels:
        result.dev = binary_metrics(dev.y, p_dev, thr)
    dev_file = out / "dev_predictions.tsv"
    with dev_file.open("w", encoding="utf-8") as fh:
        fh.write("pair_id\tlabel\tproba\tprediction\n")
        for pid, y, p in zip(dev.pair_id, dev.label, p_dev):
            fh.write(f"{pid}\t{int(y)}\t{p:.6f}\t{int(p >= thr)}\n")
    result.dev_predictions = str(dev_file)
    return seconds


def _write_test(
    model: Any, test: PairDataset, sub: Path, majority: int, result: GlueResult
) -> float:
    """Score test.tsv and write the submission `sub`, every line of the file answered (a row
    that could not be read gets the train majority `majority`). Returns the scoring seconds."""
    from pairlm.evaluation.metrics import binary_metrics

    thr = result.threshold
    t0 = time.perf_counter()
    p_test = np.asarray(model.predict_proba(test), dtype=np.float64)
    seconds = time.perf_counter() - t0
    pred = (p_test >= thr).astype(np.int64)
    index, n_lines = _test_indices(test)
    result.test_filled = write_submission(sub, index, pred, n_lines, fill=majority)
    if result.test_filled:
        log.warning(
            "%d test row(s) could not be read; predicted %d (train majority) for them",
            result.test_filled,
            majority,
        )
    result.n_test = n_lines
    result.submission = str(sub)
    if test.has_labels:
        result.test_labelled = binary_metrics(test.y, p_test, thr)
    return seconds
