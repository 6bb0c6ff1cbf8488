"""The contract every method keeps (`PairClassifier`) and the typed config base (`ModelConfig`).

Rules (scikit-learn's, adapted):
- constructors only store configuration; learned state appears in `fit` and ends with `_`;
- the decision threshold is learned in `fit` on validation data (the `valid` argument, or an
  inner stratified split of `train` when none is given), never on the data being scored;
- a saved model is a directory: `pairlm_model.json` (family, config, threshold, version)
  plus family-specific safetensors / JSON files. Nothing is unpickled from a user path.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import logging
import time
import typing
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from pairlm.configfile import check_keys, coerce
from pairlm.data.pairs import MISSING_LABEL, PairDataset
from pairlm.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_FILE = "pairlm_model.json"


@dataclasses.dataclass
class ModelConfig:
    """Base of every family's config: a dataclass, validated in `__post_init__`, JSON/TOML round-trip.

    Subclasses add fields with defaults and extend `validate()`.
    """

    seed: int = 0
    """Seed of everything the fit draws: the inner validation split, augmentation, shuffling
    and weight initialisation."""
    valid_fraction: float = 0.1
    """Share of `train` held out for early stopping and the threshold when `fit` gets no `valid`."""
    threshold_metric: str = "f1"
    """Metric the decision threshold maximises on validation data: "f1", "accuracy" or "mcc"."""

    runtime_keys: ClassVar[tuple[str, ...]] = ()
    """Keys that change how a model is trained or scored (logging, devices, threads, where
    checkpoints go) but not what it learns: left out of `identity_dict`, so a stored run
    resumed with another value is the same run and a checkpoint fingerprint ignores them."""

    def __post_init__(self) -> None:
        self._coerce_types()
        self.validate()

    def validate(self) -> None:
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.threshold_metric not in ("f1", "accuracy", "mcc"):
            raise ConfigError(
                f"threshold_metric must be 'f1', 'accuracy' or 'mcc', got {self.threshold_metric!r}"
            )

    def _coerce_types(self) -> None:
        """Check every field against its annotation (TOML/JSON give ints for floats, lists for
        tuples); a field's earlier spelling of a value (`renamed`'s `values`) becomes its own."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _from_stored_value(f, getattr(self, f.name))
            hint = hints.get(f.name)
            if hint is None:
                setattr(self, f.name, value)
                continue
            setattr(self, f.name, coerce(f.name, value, hint))

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """The config as it is stored (saved models, fingerprints, run identities): each key
        under its `stored_key` (a renamed field keeps the name it was first stored under, its
        values their earlier spelling), so what earlier runs stored and hashed stays the same."""
        values = dataclasses.asdict(self)
        d: dict[str, Any] = {}
        # Options added after models were saved and runs fingerprinted (augment, symmetric)
        # are left out at their defaults, so those fingerprints and files stay the same.
        for f in dataclasses.fields(self):
            if f.metadata.get("omit_default") and values[f.name] == f.default:
                continue
            d[stored_key(f)] = _to_stored_value(f, values[f.name])
        return d

    def identity_dict(self) -> dict[str, Any]:
        """`to_dict` without the `runtime_keys`: what a run or a training checkpoint is."""
        runtime = {stored_key(f) for f in dataclasses.fields(self) if f.name in self.runtime_keys}
        return {k: v for k, v in self.to_dict().items() if k not in runtime}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, stored: bool = False) -> Self:
        """The config of `data`'s keys. A key's earlier name (and a value's earlier spelling)
        is read as the current one, with a DeprecationWarning naming the new key unless
        `stored` (data written by `to_dict`, or a run's config as a store keeps it)."""
        return cls(**resolve_keys(cls, data, warn=not stored))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text), stored=True)

    def replace(self, **changes: Any) -> Self:
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return type(self)(**copy.deepcopy({**current, **resolve_keys(type(self), changes)}))


def renamed(
    stored_as: str | None = None, *, values: tuple[tuple[Any, Any], ...] = (), **kw: Any
) -> dict[str, Any]:
    """Field metadata of a key renamed (or re-typed) after configs were stored: the earlier
    name `stored_as` is still read (with a DeprecationWarning naming the new one) and is the
    name the field is stored and fingerprinted under (`to_dict`), so stored runs, saved models
    and checkpoints keep their identity. `values`: (current, earlier) spellings of its values
    where the type changed (("bf16", True) for a bool become a choice): the earlier ones are
    read as the current (with the warning) and stored as before. `kw`: further metadata."""
    return {"stored_as": stored_as, "stored_values": values, **kw}


def stored_key(f: dataclasses.Field[Any]) -> str:
    """The key field `f` is stored under: its earlier name when it was renamed, else its own."""
    return str(f.metadata.get("stored_as") or f.name)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _from_stored_value(f: dataclasses.Field[Any], value: Any) -> Any:
    for current, earlier in f.metadata.get("stored_values", ()):
        if _same(value, earlier):
            return current
    return value


def _to_stored_value(f: dataclasses.Field[Any], value: Any) -> Any:
    for current, earlier in f.metadata.get("stored_values", ()):
        if _same(value, current):
            return earlier
    return value


_NOTED: set[str] = set()
"""Deprecation notes already logged by this process (each is logged once)."""


def resolve_keys(
    cls: type[ModelConfig], data: dict[str, Any], *, warn: bool = True
) -> dict[str, Any]:
    """`data` keyed by field name: a renamed key (`renamed`) read under its current name,
    a DeprecationWarning naming the new key when `warn`. An unknown key, or a key given
    under both names, is a ConfigError naming it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = {stored_key(f): f.name for f in fields.values()} | {n: n for n in fields}
    check_keys(data, fields, what=cls.__name__, also=names)
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = names[key]
        if name in out:
            raise ConfigError(
                f"{cls.__name__}: {name!r} is given twice (also as its earlier name "
                f"{stored_key(fields[name])!r}); give only {name!r}"
            )
        current = _from_stored_value(fields[name], value)
        if warn and (key != name or current is not value):
            note = (
                f"{cls.__name__}: {key} = {value!r} is now written {name} = {current!r} "
                "(the old spelling is still read, and stored as before)"
            )
            warnings.warn(note, DeprecationWarning, stacklevel=3)
            if note not in _NOTED:  # the CLI hides DeprecationWarnings: say it once in the log
                _NOTED.add(note)
                log.warning("deprecated config key: %s", note)
        out[name] = value
    return out


@dataclasses.dataclass
class TrainableConfig(ModelConfig):
    """Config of a family that learns weights from its training pairs: adds training-pair
    augmentation (`pairlm.data.augment`), applied once, in `PairClassifier.fit`, to the
    training part only (after any inner validation split)."""

    augment: tuple[str, ...] = dataclasses.field(default=(), metadata={"omit_default": True})
    """Augmentations to add to the training pairs: hard negatives "swap", "negation",
    "number", "name", "antonym"; invariance positives "typo", "casing", "order"; word-order
    negatives and positives "wordorder"; or the groups "negatives", "invariance", "all".
    A kind may carry its own ratio ("wordorder:0.1"). Empty: none."""
    augment_ratio: float = dataclasses.field(default=0.2, metadata={"omit_default": True})
    """Added pairs per training pair, in all, shared equally by the `augment` kinds."""

    def validate(self) -> None:
        super().validate()
        from pairlm.data.augment import resolve_kinds

        try:
            resolve_kinds(self.augment)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if not 0.0 <= self.augment_ratio <= 10.0:
            raise ConfigError(f"augment_ratio must be in [0, 10], got {self.augment_ratio}")


@dataclasses.dataclass
class SymmetricOption(ModelConfig):
    """Config of a family whose score depends on the order of the two texts (one input holds
    both): `symmetric = true` scores both orders and averages them (in `predict_proba`, for
    every such family at once)."""

    symmetric: bool = dataclasses.field(default=False, metadata={"omit_default": True})
    """Score (a, b) and (b, a) and average: twice the scoring cost, symmetric by construction."""


SCORING_KEYS: tuple[str, ...] = ("symmetric",)
"""Config keys that change only how a trained model scores pairs: part of a run's identity
(its scores differ), not of its training's (`training_fingerprint`), so a run that differs
from another only in them resumes that run's finished trainings from their checkpoints."""


def swap_sides(pairs: PairDataset) -> PairDataset:
    """The same pairs with their two texts (and ids) exchanged."""
    return PairDataset(
        pairs.pair_id,
        pairs.text_b,
        pairs.text_a,
        pairs.label,
        pairs.id_b,
        pairs.id_a,
        pairs.name,
        target=pairs.target,
    )


def check_pairs(pairs: Any, *, require_labels: bool = False, what: str = "pairs") -> PairDataset:
    """Validate the input of `fit`/`predict_proba`: raise ValueError/TypeError naming the problem."""
    if not isinstance(pairs, PairDataset):
        raise TypeError(f"{what} must be a PairDataset, got {type(pairs).__name__}")
    if len(pairs) == 0:
        raise ValueError(f"{what} is empty")
    if require_labels:
        missing = int((pairs.label == MISSING_LABEL).sum())
        if missing:
            raise ValueError(
                f"{what} has {missing} unlabelled pairs; fit needs a 0/1 label on every pair"
            )
        if len(np.unique(pairs.label)) < 2:
            raise ValueError(
                f"{what} has only one class ({int(pairs.label[0])}); fit needs both 0 and 1"
            )
    return pairs


def training_fingerprint(
    config: ModelConfig,
    train: PairDataset,
    valid: PairDataset,
    extra: str = "",
    *,
    texts: bool = True,
) -> str:
    """Identifies a training run, for a checkpoint directory: the config (`identity_dict`
    less the `SCORING_KEYS`, which change how a trained model scores, not what it learns),
    the training and validation pairs (ids, labels and, with `texts`, both texts) and `extra`
    (e.g. the world size). `texts=False` is the earlier form, without the texts: kept only
    to find checkpoints written before the texts were part of it."""
    import hashlib

    learned = {k: v for k, v in config.identity_dict().items() if k not in SCORING_KEYS}
    h = hashlib.sha256(json.dumps(learned, sort_keys=True).encode())
    for ds in (train, valid):
        h.update("\x00".join(map(str, ds.pair_id)).encode())
        h.update(ds.label.tobytes())
        if ds.target is not None:  # soft labels (distillation): absent, the hash is as before
            h.update(b"target" + np.ascontiguousarray(ds.target, dtype=np.float64).tobytes())
        if texts:
            for side in (ds.text_a, ds.text_b):
                h.update("\x00".join(side).encode("utf-8", "surrogatepass"))
    if extra:
        h.update(extra.encode())
    return h.hexdigest()[:16]


def soft_target_rows(target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft labels as weighted hard rows, for a learner that takes sample weights but not
    probabilities (scikit-learn's logistic regression): each pair i becomes a row labelled 1
    with weight target[i] and a row labelled 0 with weight 1 - target[i] (rows of weight 0
    left out). The weighted log-loss of these rows is the soft-target cross-entropy.
    Returns (pair index of each row, its label, its weight)."""
    t = np.asarray(target, dtype=np.float64)
    pos, neg = np.flatnonzero(t > 0), np.flatnonzero(t < 1)
    idx = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])
    w = np.concatenate([t[pos], 1.0 - t[neg]])
    return idx, y, w


def inner_split(train: PairDataset, fraction: float, seed: int) -> tuple[PairDataset, PairDataset]:
    """Stratified split of a training set into (fit part, validation part)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(train))
    n_valid = max(2, round(len(train) * fraction))
    stratify = train.label if min(np.bincount(train.label.astype(int))) >= 2 else None
    fit_idx, val_idx = train_test_split(
        idx, test_size=n_valid, random_state=seed, stratify=stratify
    )
    return train.subset(np.sort(fit_idx)), train.subset(np.sort(val_idx))


def as_pairs(pairs: Any) -> Any:
    """A list (or tuple) of ``(text_a, text_b)`` pairs as a `PairDataset`; anything else is
    returned as it is (and checked by `check_pairs`)."""
    if (
        isinstance(pairs, (list, tuple))
        and pairs
        and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(t, str) for t in p)
            for p in pairs
        )
    ):
        return PairDataset.from_pairs([p[0] for p in pairs], [p[1] for p in pairs])
    return pairs


def _accepting_pair_lists(fn: Any) -> Any:
    import functools

    @functools.wraps(fn)
    def predict_proba(self: Any, pairs: Any, *args: Any, **kw: Any) -> np.ndarray:
        pairs = as_pairs(pairs)
        p = fn(self, pairs, *args, **kw)
        if getattr(self.config, "symmetric", False) and isinstance(pairs, PairDataset):
            p = (np.asarray(p) + np.asarray(fn(self, swap_sides(pairs), *args, **kw))) / 2.0
        return p

    predict_proba._accepts_pair_lists = True  # type: ignore[attr-defined]
    return predict_proba


class PairClassifier(ABC):
    """Base class of every model family. Subclasses implement `_fit`, `predict_proba`,
    `_save_state` and `_load_state`, and set `family` and `config_cls`.

    `predict_proba` (and `predict`) take a `PairDataset` or, as sentence-transformers'
    `CrossEncoder.predict` does, a plain list of ``(text_a, text_b)`` pairs."""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fn = cls.__dict__.get("predict_proba")
        if fn is not None and not getattr(fn, "_accepts_pair_lists", False):
            cls.predict_proba = _accepting_pair_lists(fn)  # type: ignore[method-assign]

    family: ClassVar[str]
    config_cls: ClassVar[type[ModelConfig]] = ModelConfig
    soft_targets: ClassVar[bool] = False
    """Whether `fit` learns from a training set's soft `target` (probabilities, e.g. a
    teacher's on silver pairs) rather than its 0/1 `label` (the teacher's decisions)."""

    threshold_: float
    fit_seconds_: float
    provenance_: dict[str, Any] | None = None
    """Where the model came from beyond its family and config (a distilled student: its
    teacher, silver pairs and labels); saved in `pairlm_model.json` under "provenance"."""

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_cls.from_dict(overrides)
        elif overrides:
            config = config.replace(**overrides)
        if not isinstance(config, self.config_cls):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_cls.__name__}, got {type(config).__name__}"
            )
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ contract
    def hold_out(self, pairs: PairDataset) -> None:
        """Pairs this model must neither train on nor score while fitting (a CV fold's test
        pairs, given by the protocol before `fit`). A family that trains only on the pairs
        `fit` gets has nothing to do; one that makes its own training pairs (`distill`)
        leaves these out, in either order."""
        self._held_out: PairDataset | None = pairs

    def held_out_pairs(self) -> PairDataset | None:
        """The pairs given to `hold_out` (None: none)."""
        return getattr(self, "_held_out", None)

    def fit(self, train: PairDataset, valid: PairDataset | None = None) -> Self:
        """Train on `train`; learn the threshold on `valid` (or an inner split of `train`)."""
        check_pairs(train, require_labels=True, what="train")
        if valid is None:
            train, valid = inner_split(train, self.config.valid_fraction, self.config.seed)
        check_pairs(valid, require_labels=True, what="valid")
        t0 = time.perf_counter()
        if isinstance(self.config, TrainableConfig) and self.config.augment:
            from pairlm.data.augment import with_augmentation

            train, aug = with_augmentation(
                train, self.config.augment, self.config.augment_ratio, self.config.seed
            )
            self.augmented_ = aug.details
            log.info("%s: %s", self.family, aug.summary())
        self._fit(train, valid)
        from pairlm.models.thresholds import choose_threshold

        self.threshold_ = choose_threshold(
            valid.y, self.validation_scores(valid), metric=self.config.threshold_metric
        )
        # A fit that resumed finished training from a checkpoint reports the whole fit: the
        # training done by earlier processes too (`train_seconds_before_`, set by `_fit`).
        self.fit_seconds_ = time.perf_counter() - t0 + getattr(self, "train_seconds_before_", 0.0)
        return self

    def validation_scores(self, valid: PairDataset) -> np.ndarray:
        """The scores of `valid` that the threshold is chosen on, after `_fit` (default:
        `predict_proba`; a family that fits on `valid` itself returns held-out scores)."""
        return self.predict_proba(valid)

    @abstractmethod
    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        """Learn the model's state (everything but the threshold)."""

    @abstractmethod
    def predict_proba(self, pairs: PairDataset) -> np.ndarray:
        """P(match) for every pair, shape (n,), values in [0, 1]."""

    def predict(self, pairs: PairDataset) -> np.ndarray:
        """0/1 decisions at the learned threshold."""
        self.check_fitted()
        return (self.predict_proba(as_pairs(pairs)) >= self.threshold_).astype(np.int64)

    def check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        self.check_fitted()
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        from pairlm import __version__

        meta = {
            "family": self.family,
            "config": self.config.to_dict(),
            "threshold": float(self.threshold_),
            "pairlm_version": __version__,
        }
        if self.provenance_:
            meta["provenance"] = self.provenance_
        self._save_state(p)
        (p / MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Load a model of this class's family (or of a subclass's) saved with `save`. A model
        of any family: `pairlm.models.registry.load_model`, which finds its class."""
        p = Path(path)
        meta = read_model_meta(p)
        klass = _family_class(cls, meta["family"])
        if klass is None:
            hint = (
                "; load it with pairlm.models.registry.load_model"
                if inspect.isabstract(cls)
                else ""
            )
            raise TypeError(f"{p} holds a {meta['family']!r} model, not a {cls.__name__}{hint}")
        model = klass(klass.config_cls.from_dict(meta["config"], stored=True))
        model._load_state(p)
        model.threshold_ = float(meta["threshold"])
        if meta.get("provenance"):
            model.provenance_ = dict(meta["provenance"])
        return typing.cast(Self, model)

    @abstractmethod
    def _save_state(self, path: Path) -> None: ...

    @abstractmethod
    def _load_state(self, path: Path) -> None: ...


def read_model_meta(path: str | Path) -> dict[str, Any]:
    """The `pairlm_model.json` of a saved model directory (family, config, threshold), checked:
    a missing file is FileNotFoundError, an unreadable or incomplete one a ConfigError naming it."""
    meta_file = Path(path) / MODEL_FILE
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved pairlm model (no {MODEL_FILE})")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["threshold"] = float(meta["threshold"])
        meta["family"] = str(meta["family"])
        meta["config"] = dict(meta.get("config") or {})
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{meta_file}: not a valid pairlm model file: {e}") from None
    return dict(meta)


def _family_class(cls: type[PairClassifier], family: str) -> type[PairClassifier] | None:
    """`cls` or the (imported) subclass of it whose `family` is `family`."""
    todo = [cls]
    while todo:
        k = todo.pop()
        if getattr(k, "family", None) == family and not inspect.isabstract(k):
            return k
        todo.extend(k.__subclasses__())
    return None
