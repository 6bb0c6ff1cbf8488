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


def test_a_new_family_gets_its_page_index_row_and_nav_entry(tmp_path, monkeypatch) -> None:
    """The family recipe of docs/architecture.md: the family's module, its registry entry
    and its tiny test model are written by hand; `python -m pairlm.report.docs` does the rest
    (its page with the config table, its row in docs/models/index.md, its nav entry)."""
    import shutil

    from pairlm.models import registry
    from pairlm.report import docs

    for d in ("docs", "configs"):
        shutil.copytree(REPO_ROOT / d, tmp_path / d)
    for f in ("README.md", "mkdocs.yml"):
        shutil.copy(REPO_ROOT / f, tmp_path / f)
    for s in docs.committed_summaries(REPO_ROOT):
        (tmp_path / s.relative_to(REPO_ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(s, tmp_path / s.relative_to(REPO_ROOT))
    monkeypatch.setitem(
        registry._FAMILIES,
        "toy-family",
        registry.FamilyInfo("pairlm.models.lexical:LexicalClassifier", "a toy family"),
    )
    assert docs.main(["--root", str(tmp_path), "--check"]) == 1  # its page is missing
    assert docs.main(["--root", str(tmp_path)]) == 0
    page = (tmp_path / "docs/models/toy-family.md").read_text(encoding="utf-8")
    assert page.startswith("# toy-family\n\nA toy family.")
    assert "| `C` |" in page  # the config table (the lexical config, here)
    index = (tmp_path / "docs/models/index.md").read_text(encoding="utf-8")
    assert "| `toy-family` | a toy family | [toy-family](toy-family.md) |" in index
    nav = (tmp_path / "mkdocs.yml").read_text(encoding="utf-8")
    assert "      - toy-family: models/toy-family.md\n      # pairlm:nav-models:end" in nav
    assert docs.main(["--root", str(tmp_path), "--check"]) == 0
