"""Issue 43: one name and type per config concept across families; the earlier names are
still read (with a DeprecationWarning naming the new key) and keep stored identities."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

from pairlm.configdoc import field_docs, markdown_table
from pairlm.data.pairs import PairDataset
from pairlm.errors import ConfigError
from pairlm.models.base import training_fingerprint
from pairlm.models.registry import get_family

# (family, earlier key, current key, a value off the default)
RENAMED = [
    ("crossencoder", "lora_r", "r", 4),
    ("crossencoder", "lora_target_modules", "target_modules", ["query", "key"]),
    ("biencoder", "finetune_lr", "lr", 3e-5),
    ("biencoder", "max_seq_length", "max_length", 64),
    ("siamese-cnn", "max_len", "max_length", 20),
]


def _pairs() -> tuple[PairDataset, PairDataset]:
    p = PairDataset.from_pairs(["a b", "c d", "e f", "g h"], ["a c", "d e", "f g", "h i"])
    p = PairDataset(p.pair_id, p.text_a, p.text_b, np.array([0, 1, 0, 1]), p.id_a, p.id_b, "t")
    return p, p.subset(np.array([0, 1]))


def _config_cls(family: str) -> type:
    return get_family(family).config_cls


@pytest.mark.parametrize(("family", "old", "new", "value"), RENAMED)
def test_earlier_name_reads_as_the_new_one_with_the_same_fingerprint(
    family: str, old: str, new: str, value: object
) -> None:
    cls = _config_cls(family)
    with pytest.warns(DeprecationWarning, match=f"{old} = .* is now written {new} = "):
        legacy = cls.from_dict({old: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        current = cls.from_dict({new: value})
    assert legacy == current
    assert getattr(current, new) == value or list(getattr(current, new)) == value
    # stored (and fingerprinted) under the name earlier runs stored it under
    assert old in current.to_dict() and new not in current.to_dict()
    assert current.to_dict() == legacy.to_dict()
    assert current.identity_dict() == legacy.identity_dict()
    train, valid = _pairs()
    assert training_fingerprint(current, train, valid) == training_fingerprint(legacy, train, valid)
    # what to_dict wrote reads back without a warning, to an equal config
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cls.from_dict(current.to_dict(), stored=True) == current
        assert cls.from_json(current.to_json()) == current
        assert current.replace(**{new: value}) == current


@pytest.mark.parametrize(("family", "old", "new", "value"), RENAMED)
def test_both_names_at_once_and_unknown_keys_are_refused(
    family: str, old: str, new: str, value: object
) -> None:
    cls = _config_cls(family)
    with pytest.raises(ConfigError, match=f"give only '{new}'"):
        cls.from_dict({old: value, new: value}, stored=True)
    with pytest.raises(ConfigError, match=r"unknown key.*lora_rank"):
        cls.from_dict({"lora_rank": 4})


def test_llm_lora_autocast_is_the_cross_encoders_choice_and_reads_true_false() -> None:
    cls = _config_cls("llm-lora")
    assert cls().autocast == "off" == _config_cls("crossencoder")().autocast
    train, valid = _pairs()
    for earlier, current in ((True, "bf16"), (False, "off")):
        with pytest.warns(DeprecationWarning, match=f"autocast = {earlier} .* {current!r}"):
            legacy = cls.from_dict({"autocast": earlier})
        new = cls.from_dict({"autocast": current})
        assert legacy == new and new.autocast == current
        assert new.to_dict()["autocast"] is earlier  # stored as before: same fingerprints
        assert training_fingerprint(new, train, valid) == training_fingerprint(legacy, train, valid)
    assert cls.from_dict({"autocast": "auto"}).to_dict()["autocast"] == "auto"
    with pytest.raises(ConfigError, match="autocast"):
        cls.from_dict({"autocast": "fp8"})


def test_renamed_keys_are_read_as_classifier_overrides() -> None:
    from pairlm.models.siamese_cnn import SiameseCNNClassifier

    with pytest.warns(DeprecationWarning, match="max_length"):
        m = SiameseCNNClassifier(max_len=12)
    assert m.config.max_length == 12
    assert SiameseCNNClassifier(max_length=12).config == m.config


def test_one_name_and_type_per_concept_across_families() -> None:
    hints = {}
    for family in ("crossencoder", "biencoder", "siamese-cnn", "llm-lora", "llm-zeroshot"):
        for d in field_docs(_config_cls(family)):
            hints.setdefault(d.key, set()).add(d.type)
    for gone in ("lora_r", "lora_target_modules", "finetune_lr", "max_seq_length", "max_len"):
        assert gone not in hints
    assert hints["r"] == {"int"}
    assert hints["target_modules"] == {"list[str] | str"}
    assert hints["autocast"] == {'"off" | "auto" | "bf16"'}
    assert hints["device"] == {"str"}


def test_llm_fields_are_declared_once_and_lora_is_grouped() -> None:
    from pairlm.models.llm.lora_config import LoRAAdapterFields, LoRAConfig, LoRATrainingFields
    from pairlm.models.llm.prompting import LLMFields, LLMZeroShotConfig

    shared = {f.name for f in dataclasses.fields(LLMFields)} - {
        "seed",
        "valid_fraction",
        "threshold_metric",
    }
    assert len(shared) >= 9
    for cls in (LoRAConfig, LLMZeroShotConfig):
        owners = {d.key: d.owner for d in field_docs(cls)}
        assert {owners[k] for k in shared} == {"LLMFields"}
    owners = {d.key: d.owner for d in field_docs(LoRAConfig)}
    assert owners["r"] == LoRAAdapterFields.__name__
    assert owners["lr"] == owners["autocast"] == LoRATrainingFields.__name__
    # flat keys, as before: every field a top-level key of to_dict
    assert set(LoRAConfig().to_dict()) >= {"r", "lr", "backbone", "checkpoint_steps"}
    assert json.loads(LoRAConfig.from_dict({"r": 16, "lr": 1e-4}).to_json())["r"] == 16


def test_docs_table_names_the_earlier_key() -> None:
    table = markdown_table(_config_cls("crossencoder"))
    assert "| `r` |" in table and "Formerly `lora_r` (still read)." in table
