"""The configuration reference: every key of every registered family's config, of each
experiment-file table and of `[serve]` has a docstring and is in the committed docs pages,
which equal what `pairlm.report.docs` generates from the code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from pairlm.cli import main
from pairlm.configdoc import field_docs, markdown_table, undocumented
from pairlm.report.docs import all_blocks, config_classes, config_page, stale
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def classes() -> dict[str, type]:
    return config_classes()


def test_every_config_key_has_a_docstring(classes: dict[str, type]) -> None:
    missing = {block: undocumented(cls) for block, cls in classes.items() if undocumented(cls)}
    assert not missing, f"config fields without a docstring under them: {missing}"


def test_every_family_experiment_table_and_the_service_are_covered(
    classes: dict[str, type],
) -> None:
    from pairlm.experiments.spec import _TOP_KEYS
    from pairlm.models.registry import _FAMILIES

    builtin = {n for n, e in _FAMILIES.items() if not isinstance(e, str)}
    assert len(builtin) >= 8 and {f"config-{f}" for f in builtin} <= set(classes)
    sections = {b.removeprefix("config-experiment-") for b in classes if "experiment-" in b}
    assert sections >= _TOP_KEYS
    assert "config-serve" in classes


def test_every_key_is_in_its_committed_docs_page(classes: dict[str, type]) -> None:
    for block, cls in classes.items():
        text = (REPO_ROOT / config_page(block)).read_text(encoding="utf-8")
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in text, f"{f.name} of {block} not in {config_page(block)}"


def test_the_committed_generated_tables_equal_the_generator() -> None:
    bad = stale(REPO_ROOT, all_blocks(REPO_ROOT))
    assert not bad, f"generated tables out of date: {bad}; run python -m pairlm.report.docs"


@dataclass
class _Base:
    seed: int = 0
    """Seed."""


@dataclass
class _Toy(_Base):
    mode: Literal["a", "b"] = "a"
    """Which | way."""
    size: int = 200_000
    path: str | None = None
    """Where; `a | b` stays."""
    tags: list[str] = field(default_factory=lambda: ["x"])
    """Tags,
    on two lines."""


def test_field_docs_reads_types_defaults_and_docstrings() -> None:
    docs = {d.key: d for d in field_docs(_Toy)}
    assert [d.key for d in field_docs(_Toy)] == ["mode", "size", "path", "tags", "seed"]
    assert docs["mode"].type == '"a" | "b"' and docs["mode"].default == '"a"'
    assert docs["size"].default == "200_000" and docs["size"].doc == ""
    assert docs["path"].type == "str | None" and docs["path"].default == "None"
    assert docs["tags"].default == '["x"]' and docs["tags"].doc == "Tags, on two lines."
    assert docs["seed"].owner == "_Base"
    assert undocumented(_Toy) == ["size"]
    table = markdown_table(_Toy)
    assert '| `mode` | `"a" | "b"` | `"a"` | Which \\| way. |' in table
    assert "Where; `a | b` stays." in table


def test_pairlm_models_family_prints_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    from pairlm.models.lexical import LexicalConfig

    assert main(["models", "lexical"]) == 0
    out = capsys.readouterr().out
    for d in field_docs(LexicalConfig):
        assert d.key in out
    assert "Inverse L2 strength of the logistic regression" in out
    with pytest.raises(SystemExit, match="unknown model family"):
        main(["models", "no-such-family"])
