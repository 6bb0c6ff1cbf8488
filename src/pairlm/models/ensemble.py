"""Stacked ensemble of model families (`ensemble`).

Each member family is trained on the training part exactly as it would be alone (same
`train` and `valid`: a member's early stopping and threshold see what they would see in a
run of their own). A logistic-regression stacker is then fitted on the members' predictions
for the validation part — never on test — with each member's probability as a logit
feature. The ensemble's decision threshold is chosen on the validation part from
*cross-fitted* stacker predictions (each validation pair scored by a stacker that did not
see it), so the threshold is not tuned on in-sample scores.

A member that keeps a resumable checkpoint (`llm-lora` with `checkpoint_dir`) and gets the
same config and data as a run of its own resumes that run's finished training instead of
repeating it: an ensemble over a LoRA member costs its scoring, not a second fine-tuning.

Saved as a directory: `ensemble.json` (stacker weights, member names) and one saved model
per member under `members/<name>/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ConfigError, ModelConfig, PairClassifier, check_pairs

STATE_FILE = "ensemble.json"
MEMBERS_DIR = "members"
_EPS = 1e-6


def _default_members() -> list[dict[str, Any]]:
    """Chosen on validation (fold 0 of the 10-fold QQP protocol, never its test part): of
    every subset of lexical, the MiniLM bi-encoder and the S-CNN, all three stack best
    (benchmarks/ensemble_members.py, results/ensemble-members/fold0.json)."""
    return [
        {"family": "lexical"},
        {"family": "biencoder"},
        {"family": "siamese-cnn", "config": {"epochs": 30, "patience": 3}},
    ]


@dataclass
class EnsembleConfig(ModelConfig):
    """Config of `ensemble`: the members and the stacker."""

    members: list[dict] = field(default_factory=_default_members)
    """Member families: tables with `family`, optional `config` (the family's keys) and
    optional `name` (default: the family; names must be distinct)."""
    C: float = 1.0
    """Inverse L2 strength of the logistic-regression stacker."""
    stack_folds: int = 5
    """Folds of the cross-fitting that gives the validation scores the threshold is chosen on."""

    def validate(self) -> None:
        super().validate()
        if not self.members:
            raise ConfigError("members must list at least one member family")
        from pairlm.models.registry import check_member

        names = []
        for i, m in enumerate(self.members):
            if isinstance(m, dict) and m.get("family") == "ensemble":
                raise ConfigError(f"members[{i}]: an ensemble cannot be a member of an ensemble")
            fam = check_member(f"members[{i}]", m, ("family", "config", "name"))
            names.append(str(m.get("name", fam)))
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"members: duplicate member name(s) {', '.join(dup)}; set 'name'")
        if self.C <= 0:
            raise ConfigError(f"C must be > 0, got {self.C}")
        if self.stack_folds < 2:
            raise ConfigError(f"stack_folds must be >= 2, got {self.stack_folds}")

    def member_names(self) -> list[str]:
        return [str(m.get("name", m["family"])) for m in self.members]


class EnsembleClassifier(PairClassifier):
    """Logistic-regression stack over member families' P(match)."""

    family: ClassVar[str] = "ensemble"
    config_cls: ClassVar[type[ModelConfig]] = EnsembleConfig
    config: EnsembleConfig

    members_: list[PairClassifier]
    coef_: np.ndarray
    intercept_: float

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        from sklearn.linear_model import LogisticRegression

        from pairlm.models.registry import create

        self.members_ = []
        for m in self.config.members:
            member = create(m["family"], m.get("config", {}))
            held = self.held_out_pairs()
            if held is not None:
                member.hold_out(held)
            member.fit(train, valid)
            self.members_.append(member)
        x = self._features(valid)
        y = valid.y.astype(int)
        stacker = LogisticRegression(C=self.config.C, max_iter=1000)
        stacker.fit(x, y)
        self.coef_ = stacker.coef_[0].astype(np.float64)
        self.intercept_ = float(stacker.intercept_[0])
        self._valid_scores = self._cross_fitted(x, y)

    def _cross_fitted(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Validation scores, each from a stacker fitted without that pair."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        k = min(self.config.stack_folds, int(np.bincount(y).min()))
        if k < 2:  # too few of one class to cross-fit: in-sample scores
            return self._stack(x)
        out = np.zeros(len(y))
        cv = StratifiedKFold(k, shuffle=True, random_state=self.config.seed)
        for fit_idx, held in cv.split(x, y):
            lr = LogisticRegression(C=self.config.C, max_iter=1000).fit(x[fit_idx], y[fit_idx])
            out[held] = lr.predict_proba(x[held])[:, 1]
        return out

    def validation_scores(self, valid: PairDataset) -> np.ndarray:
        scores = getattr(self, "_valid_scores", None)
        if scores is not None and len(scores) == len(valid):
            return scores
        return self.predict_proba(valid)

    def _features(self, pairs: PairDataset) -> np.ndarray:
        cols = []
        for member in self.members_:
            p = np.clip(np.asarray(member.predict_proba(pairs), dtype=np.float64), _EPS, 1 - _EPS)
            cols.append(np.log(p / (1 - p)))
        return np.stack(cols, axis=1)

    def _stack(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        check_pairs(pairs)
        if not hasattr(self, "coef_"):
            raise RuntimeError("EnsembleClassifier is not fitted; call fit() or load() first")
        return self._stack(self._features(pairs))

    def weights(self) -> dict[str, float]:
        """The stacker's weight on each member's logit."""
        return dict(zip(self.config.member_names(), map(float, self.coef_)))

    # ------------------------------------------------------------------ persistence
    def _save_state(self, path: Path) -> None:
        names = self.config.member_names()
        for name, member in zip(names, self.members_):
            member.save(path / MEMBERS_DIR / name)
        state = {"members": names, "coef": self.coef_.tolist(), "intercept": self.intercept_}
        (path / STATE_FILE).write_text(json.dumps(state, indent=1))

    def _load_state(self, path: Path) -> None:
        from pairlm.models.registry import load_model

        f = path / STATE_FILE
        if not f.is_file():
            raise FileNotFoundError(f"{path} has no {STATE_FILE}")
        state = json.loads(f.read_text())
        names = self.config.member_names()
        if state["members"] != names:
            raise ValueError(f"{f}: members {state['members']} do not match the config {names}")
        self.members_ = [load_model(path / MEMBERS_DIR / n) for n in names]
        for n, m, spec in zip(names, self.members_, self.config.members):
            if m.family != spec["family"]:
                raise ValueError(
                    f"{path / MEMBERS_DIR / n} holds {m.family!r}, not {spec['family']!r}"
                )
        self.coef_ = np.asarray(state["coef"], dtype=np.float64)
        self.intercept_ = float(state["intercept"])
