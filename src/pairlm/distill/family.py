"""The `distill` family: a fast student trained on gold pairs plus silver pairs that a slow,
accurate teacher labelled (Augmented SBERT, Thakur et al., NAACL 2021).

`fit(train, valid)`:

1. the teacher: a saved model (`teacher = {model_dir = ...}`, loaded), or a family with its
   config (`teacher = {family = ..., config = {...}}`) fitted on the same `train` and
   `valid`, so in a CV fold it is that fold's own model, and a teacher whose members keep
   checkpoints (`checkpoint_dir`) resumes their finished trainings;
2. silver pairs from the distinct texts of `train` only (`pairlm.distill.sampling`):
   `samplers` gives each sampler's count as a multiple of the gold size (`len(train)`);
   never a pair of `train` or `valid`, nor one given to `hold_out` (a CV fold's test pairs),
   in either order; never a text with itself;
3. the teacher scores them in batches of `score_batch`, in this process or on Ray
   (`backend`), each batch cached by pair under `cache_dir` (`pairlm.distill.teacher`): a
   killed fit resumes where its scoring stopped;
4. labels: the teacher's P(match) (`labels = "soft"`) or its decision at its own threshold
   (`"hard"`). A student family that cannot learn from probabilities
   (`PairClassifier.soft_targets` false: `llm-lora`, ...) gets the decisions, with a warning;
5. the student fits on gold plus silver with its family's own loss, early stopping and
   threshold on `valid` (gold pairs only).

`predict_proba` is the student's. Saved as `student/` (the student's saved model) and
`distill.json` (teacher, silver counts per sampler, labels, timings); `save_student` writes
the student alone as a plain model of its family, the distillation in its
`pairlm_model.json` under "provenance" (what `pairlm distill --out` writes), so search,
serve and `pairlm predict` use it like any model of that family.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from pairlm.data.pairs import PairDataset, concat
from pairlm.distill.sampling import SAMPLERS, distinct_texts, pair_keys, sample_silver
from pairlm.models.base import ConfigError, ModelConfig, PairClassifier, check_pairs
from pairlm.models.registry import check_member

log = logging.getLogger(__name__)

STATE_FILE = "distill.json"
STUDENT_DIR = "student"
SILVER_FILE = "silver.tsv"


def _default_student() -> dict[str, Any]:
    return {"family": "lexical"}


def _default_samplers() -> dict[str, float]:
    return {"neighbours": 1.0, "bm25": 1.0, "random": 0.5}


def _identity(m: dict[str, Any]) -> dict[str, Any]:
    """A member table with its config less the family's runtime keys."""
    from pairlm.models.registry import get_family

    if "family" not in m:
        return dict(m)
    cfg = get_family(m["family"]).config_cls.from_dict(dict(m.get("config", {})), stored=True)
    return {"family": m["family"], "config": cfg.identity_dict()}


def student_data(
    spec: dict[str, Any],
    gold: PairDataset,
    text_a: Sequence[str],
    text_b: Sequence[str],
    p: np.ndarray,
    hard: np.ndarray,
    sampler: Sequence[str] | np.ndarray,
    labels: str,
) -> tuple[PairClassifier, PairDataset, bool]:
    """The student of `spec` ({family, config}, unfitted), its training set (the gold pairs,
    then the silver pairs (text_a[k], text_b[k]) labelled by the teacher's decisions `hard`,
    with its P(match) `p` as soft targets when `labels` is "soft" and the family learns from
    them) and whether the targets are soft. Warns when soft labels were asked of a family
    that cannot take them, or when a cap on the student's training pairs cuts silver ones."""
    from pairlm.models.registry import create

    student = create(spec["family"], spec.get("config", {}))
    soft = labels == "soft" and student.soft_targets
    if labels == "soft" and not soft:
        log.warning(
            "distill: %s cannot learn from probabilities; its silver labels are the "
            "teacher's decisions (hard)",
            student.family,
        )
    if len(text_a) == 0:
        return student, gold, soft
    silver = PairDataset.from_pairs(
        list(text_a),
        list(text_b),
        np.asarray(hard, dtype=np.int8),
        pair_ids=[f"silver-{s}-{k}" for k, s in enumerate(sampler)],
        name="silver",
        target=np.asarray(p, dtype=np.float64) if soft else None,
    )
    combined = concat([gold, silver], name=gold.name)
    cap = getattr(student.config, "max_train_pairs", None)
    if cap is not None and cap < len(combined):
        log.warning(
            "distill: the student's max_train_pairs (%d) keeps %d of its %d gold + silver pairs",
            cap,
            cap,
            len(combined),
        )
    return student, combined, soft


@dataclass
class DistillConfig(ModelConfig):
    """Config of `distill`: the teacher, the student, the silver pairs and their labels."""

    teacher: dict[str, Any] = field(default_factory=dict)
    """The teacher: `{family = "...", config = {...}}` (fitted on the same training and
    validation pairs as the student; in an experiment file, a run's `teacher = "RUN"` fills
    this in) or `{model_dir = "..."}` (a saved model, loaded as it is)."""
    student: dict[str, Any] = field(default_factory=_default_student)
    """The student: `{family = "...", config = {...}}` (not `distill`). Mind caps on training
    pairs in its config (`max_train_pairs` of the encoders): silver pairs count."""
    samplers: dict[str, float] = field(default_factory=_default_samplers)
    """Silver pairs per sampler as a multiple of the gold training pairs: "neighbours"
    (nearest neighbours by `encoder`), "bm25" (BM25 neighbours), "random"; 0 or absent: not
    used. All zero: a gold-only student (the baseline)."""
    labels: Literal["soft", "hard"] = "soft"
    """Silver labels: the teacher's P(match) ("soft") or its 0/1 decision at its threshold
    ("hard"). A student family that cannot learn from probabilities gets the decisions."""
    encoder: str | None = None
    """Sentence encoder of the "neighbours" sampler (None: the packaged all-MiniLM-L6-v2)."""
    score_batch: int = 512
    """Silver pairs the teacher scores per batch (one cache commit each; with `backend`
    "ray" one Ray Data job each, so make it large there, e.g. 20000)."""
    backend: Literal["local", "ray"] = "local"
    """Where the teacher scores silver pairs: "local" (this process) or "ray" (actors that
    load the saved teacher; pip install 'pairlm[ray]')."""
    address: str | None = None
    """With `backend` "ray": a running Ray cluster (None: start a local Ray)."""
    cache_dir: str | None = None
    """Folder of the teacher-score cache (one SQLite file per teacher): a killed fit resumes
    its scoring there (None: no cache kept)."""
    progress: bool | None = None
    """Progress bars: true, false, or None (a bar only when stderr is a terminal)."""

    runtime_keys: ClassVar[tuple[str, ...]] = (
        "score_batch",
        "backend",
        "address",
        "cache_dir",
        "progress",
    )

    def validate(self) -> None:
        super().validate()
        t = self.teacher
        if not isinstance(t, dict) or not t:
            raise ConfigError(
                "teacher is required: {family = ..., config = {...}} or {model_dir = ...}"
            )
        if "model_dir" in t:
            if set(t) != {"model_dir"} or not isinstance(t["model_dir"], str):
                raise ConfigError(
                    f"teacher: give either model_dir (a string) alone or family + config, got {t!r}"
                )
        else:
            check_member("teacher", t)
        if isinstance(self.student, dict) and self.student.get("family") == "distill":
            raise ConfigError("student: a distill model cannot be the student of one")
        check_member("student", self.student)
        unknown = sorted(set(self.samplers) - set(SAMPLERS))
        if unknown:
            raise ConfigError(
                f"samplers: unknown sampler(s) {', '.join(unknown)}; known: {', '.join(SAMPLERS)}"
            )
        for k, v in self.samplers.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
                raise ConfigError(f"samplers.{k} must be a number in [0, 100], got {v!r}")
        if self.score_batch < 1:
            raise ConfigError(f"score_batch must be >= 1, got {self.score_batch}")
        if self.address is not None and self.backend != "ray":
            raise ConfigError("address is for backend = 'ray'")

    def identity_dict(self) -> dict[str, Any]:
        """As `ModelConfig.identity_dict`, with the teacher's and student's configs less their
        own runtime keys (a folder of checkpoints is not what a teacher is)."""
        d = super().identity_dict()
        d["teacher"] = _identity(self.teacher)
        d["student"] = _identity(self.student)
        return d

    def counts(self, n_gold: int) -> dict[str, int]:
        """Silver pairs asked of each sampler for `n_gold` gold training pairs."""
        return {s: round(m * n_gold) for s, m in self.samplers.items() if round(m * n_gold) > 0}


class DistillClassifier(PairClassifier):
    """A student trained on gold plus teacher-labelled silver pairs (family `distill`)."""

    family: ClassVar[str] = "distill"
    config_cls: ClassVar[type[ModelConfig]] = DistillConfig
    config: DistillConfig

    student_: PairClassifier
    summary_: dict[str, Any]
    silver_: PairDataset | None
    """The silver pairs the student trained on (`target`: the teacher's P(match) with soft
    labels); their sampler in `silver_sampler_`, the teacher's score in `silver_scores_`."""

    # ------------------------------------------------------------------ fit
    def _teacher(
        self, train: PairDataset, valid: PairDataset
    ) -> tuple[PairClassifier, dict[str, Any]]:
        from pairlm.distill.teacher import saved_model_fingerprint, trained_fingerprint
        from pairlm.models.registry import create, load_model

        t = self.config.teacher
        desc: dict[str, Any]
        if "model_dir" in t:
            teacher = load_model(t["model_dir"])
            desc = {"model_dir": str(t["model_dir"]), "family": teacher.family}
            desc["fingerprint"] = saved_model_fingerprint(t["model_dir"])
            return teacher, desc
        teacher = create(t["family"], t.get("config", {}))
        held = self.held_out_pairs()
        if held is not None:
            teacher.hold_out(held)
        t0 = time.perf_counter()
        teacher.fit(train, valid)
        log.info("distill: teacher %s fitted in %.0f s", t["family"], time.perf_counter() - t0)
        desc = {"family": t["family"], "config": dict(t.get("config", {}))}
        desc["fingerprint"] = trained_fingerprint(t["family"], teacher.config, train, valid)
        desc["fit_seconds"] = round(teacher.fit_seconds_, 2)
        return teacher, desc

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings of `texts` by `encoder`, through the bi-encoder's shared
        cache: texts a frozen-encoder teacher (or an earlier fold) encoded are not encoded
        again."""
        from pairlm.models.biencoder import BiEncoderClassifier

        enc = BiEncoderClassifier(
            encoder=self.config.encoder, mode="cosine", progress=self.config.progress
        )
        return enc.embed(texts)

    def _scorer(self, teacher: PairClassifier, desc: dict[str, Any]) -> Any:
        from pairlm.distill import teacher as tmod

        c = self.config
        if c.backend == "local":
            return tmod.local_scorer(teacher)
        model_dir = desc.get("model_dir")
        if model_dir is None:  # trained here: Ray actors load a saved copy
            where = Path(c.cache_dir) / f"teacher-{desc['fingerprint']}" if c.cache_dir else None
            model_dir = str(tmod.saved_copy(teacher, where))
        return tmod.ray_scorer(model_dir, c.address)

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        from pairlm.distill.teacher import ScoreCache, score_pairs

        c = self.config
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        teacher, desc = self._teacher(train, valid)
        desc["threshold"] = float(teacher.threshold_)
        seconds["teacher"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        held = self.held_out_pairs()
        exclude = pair_keys(train) | pair_keys(valid) | pair_keys(held)
        texts = distinct_texts(train)
        wanted = c.counts(len(train))
        silver = sample_silver(
            texts,
            wanted,
            exclude,
            seed=c.seed,
            embed=self._embed if "neighbours" in wanted else None,
        )
        seconds["sampling"] = time.perf_counter() - t0
        log.info(
            "distill: %d silver pairs from %d training texts %s",
            len(silver),
            len(texts),
            silver.counts(),
        )

        t0 = time.perf_counter()
        cache = ScoreCache(c.cache_dir, desc["fingerprint"])
        try:
            cache.set_meta(teacher={k: v for k, v in desc.items() if k != "fit_seconds"})
            p, scored_now = score_pairs(
                self._scorer(teacher, desc),
                silver.text_a,
                silver.text_b,
                cache,
                batch_size=c.score_batch,
                show_progress=c.progress,
            )
        finally:
            cache.close()
        seconds["scoring"] = time.perf_counter() - t0
        hard = (p >= teacher.threshold_).astype(np.int8)
        del teacher  # the student trains without it in memory

        self.silver_sampler_ = silver.sampler
        self.silver_scores_ = p
        student, combined, soft = student_data(
            c.student, train, silver.text_a, silver.text_b, p, hard, silver.sampler, c.labels
        )
        self.silver_ = (
            combined.subset(np.arange(len(train), len(combined))) if len(silver) else None
        )
        t0 = time.perf_counter()
        student.fit(combined, valid)
        seconds["student"] = time.perf_counter() - t0
        self.student_ = student
        by = {s: silver.sampler == s for s in silver.wanted}
        self.summary_ = {
            "teacher": desc,
            "student": {"family": student.family, "config": c.student.get("config", {})},
            "labels": c.labels,
            "labels_used": "soft" if soft else "hard",
            "gold_pairs": len(train),
            "valid_pairs": len(valid),
            "held_out_pairs": 0 if held is None else len(held),
            "training_texts": len(texts),
            "gold_positive_rate": round(float(train.positive_rate), 4),
            "silver": {
                "positive_rate": round(float(hard.mean()), 4) if len(hard) else None,
                "wanted": silver.wanted,
                "pairs": silver.counts(),
                "total": len(silver),
                "teacher_positive": {s: int(hard[m].sum()) for s, m in by.items()},
                "teacher_mean_p": {
                    s: round(float(p[m].mean()), 4) if m.any() else None for s, m in by.items()
                },
            },
            "scored_now": int(scored_now),
            "cache": None if c.cache_dir is None else str(c.cache_dir),
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        }

    # ------------------------------------------------------------------ scoring
    def _check(self) -> None:
        if not hasattr(self, "student_"):
            raise RuntimeError("DistillClassifier is not fitted; call fit() or load() first")

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        self._check()
        return self.student_.predict_proba(pairs)

    def validation_scores(self, valid: PairDataset) -> np.ndarray:
        self._check()
        return self.student_.validation_scores(valid)

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        self.student_.save(path / STUDENT_DIR)
        (path / STATE_FILE).write_text(json.dumps(self.summary_, indent=1, sort_keys=True))

    def _load_state(self, path: Path) -> None:
        from pairlm.models.registry import load_model

        f = path / STATE_FILE
        if not f.is_file():
            raise FileNotFoundError(f"{path} is not a saved distill model: {STATE_FILE} is missing")
        self.summary_ = json.loads(f.read_text())
        self.student_ = load_model(path / STUDENT_DIR)
        self.silver_ = None

    def save_student(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Save the student alone, as a plain model of its family (loadable by anything that
        loads that family), with the distillation under "provenance" in its
        `pairlm_model.json`, `distill.json` (the same, with `extra`) and `silver.tsv` (every
        silver pair: sampler, teacher P(match), label and target used) beside it."""
        self._check()
        self.check_fitted()
        out = Path(path)
        prov = {"distilled": {**self.summary_, "config": self.config.to_dict(), **(extra or {})}}
        self.student_.provenance_ = prov
        # the distilled model's threshold (chosen on the gold validation pairs)
        self.student_.threshold_ = self.threshold_
        self.student_.save(out)
        (out / STATE_FILE).write_text(json.dumps(prov["distilled"], indent=1, sort_keys=True))
        silver = self.silver_
        if silver is not None:
            with (out / SILVER_FILE).open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh, delimiter="\t", lineterminator="\n")
                w.writerow(["sampler", "teacher_p", "label", "target", "text_a", "text_b"])
                tgt = silver.soft_labels
                for k in range(len(silver)):
                    w.writerow(
                        [
                            self.silver_sampler_[k],
                            f"{self.silver_scores_[k]:.6f}",
                            int(silver.label[k]),
                            f"{tgt[k]:.6f}",
                            silver.text_a[k],
                            silver.text_b[k],
                        ]
                    )
        return out
