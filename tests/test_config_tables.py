"""Issue 43: every config table (a model config, the tables of an experiment file, [serve],
a corpus index's config) becomes its dataclass one way (`pairlm.configfile.from_table` and
`check_fields`), with one error type, `ConfigError`, naming the file, the section and the key."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from pairlm import configfile
from pairlm.errors import ConfigError
from pairlm.experiments import checks, spec
from pairlm.experiments.spec import parse_experiment
from pairlm.search.index import IndexConfig
from pairlm.serve.config import ServeConfig, load_config

SOURCE = Path("exp.toml")
RUN = {"name": "base", "model": "lexical", "config": {"max_word_features": 500}}


def _exp(**tables: Any) -> dict[str, Any]:
    return {"data": {"dataset": "x"}, "runs": [dict(RUN)], **tables}


def _raises(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_experiment(data, SOURCE)
    return info.value


@pytest.mark.parametrize(
    ("data", "section", "key", "message"),
    [
        (_exp(data={"dataset": "x", "polcy": "skip"}), "[data]", "polcy", "unknown key(s)"),
        (_exp(data={"dataset": "x", "policy": "drop"}), "[data]", "policy", "'skip' or 'error'"),
        (_exp(data={"dataset": "x", "keep_duplicates": 1}), "[data]", "keep_duplicates", "true"),
        (_exp(experiment={"colour": 1}), "[experiment]", "colour", "unknown key(s)"),
        (_exp(protocol={"folds": "x"}), "[protocol]", "folds", "must be an integer"),
        (_exp(protocol={"fold": 2}), "[protocol]", "fold", "unknown key(s)"),
        (_exp(check={"tolerance": 2}), "[check]", "tolerance", "a number in [0, 1]"),
        (_exp(check={"colour": 2}), "[check]", "colour", "unknown key(s)"),
        (
            {**_exp(), "runs": [{**RUN, "max_train": "x"}]},
            "[[runs]] #1",
            "max_train",
            "`max_train` must be an integer >= 10, got 'x'",
        ),
        ({**_exp(), "runs": [{**RUN, "colour": 1}]}, "[[runs]] #1", "colour", "unknown key(s)"),
        (
            {**_exp(), "runs": [{**RUN, "config": {"max_word_features": "many"}}]},
            "[[runs]] #1 (base)",
            "max_word_features",
            "max_word_features must be an integer, got 'many'",
        ),
        (
            {**_exp(), "runs": [{**RUN, "config": {"colour": 1}}]},
            "[[runs]] #1 (base)",
            "colour",
            "unknown key(s) for LexicalConfig",
        ),
        (
            _exp(transfer=[{"run": "base", "targets": ["y"], "memory_gb": -1}]),
            "[[transfer]] #1",
            "memory_gb",
            "a positive number",
        ),
        (
            _exp(transfer=[{"run": "base", "targets": [{"dataset": "y", "fmt": "csv"}]}]),
            "[[transfer]] #1 (base) targets[0]",
            "fmt",
            "unknown key(s)",
        ),
    ],
)
def test_an_experiment_file_error_names_the_file_the_section_and_the_key(
    data: dict[str, Any], section: str, key: str, message: str
) -> None:
    e = _raises(data)
    assert (e.file, e.section, e.key) == ("exp.toml", section, key)
    assert str(e).startswith(f"exp.toml {section}: ") and message in str(e)
    assert "\n" not in str(e) and isinstance(e, ValueError)


def test_serve_errors_are_config_errors_naming_the_file_section_and_key(tmp_path: Path) -> None:
    f = tmp_path / "serve.toml"
    f.write_text("[serve]\nmax_textz = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert (info.value.file, info.value.section, info.value.key) == (str(f), "[serve]", "max_textz")
    assert str(info.value).startswith(f"{f} [serve]: unknown key(s)")
    f.write_text("[serve]\nmax_texts = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[serve\]: `max_texts` must be a positive integer"):
        load_config(f)
    with pytest.raises(ConfigError, match="`reranker_threshold` must be a number in"):
        ServeConfig(reranker_threshold=1.5)
    with pytest.raises(ConfigError, match="`default_top_k` must be <= max_top_k"):
        ServeConfig(default_top_k=20, max_top_k=10)
    with pytest.raises(ConfigError, match="`api_key` must be a string"):
        ServeConfig(api_key=5)  # type: ignore[arg-type]
    assert ServeConfig(match_overlap=0, api_key="").api_key is None


def test_index_config_errors_are_config_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"index config: unknown key\(s\).*colour") as info:
        IndexConfig.from_dict({"colour": 1})
    assert info.value.key == "colour"
    with pytest.raises(ConfigError, match="index config: `hnsw_m` must be an integer >= 2"):
        IndexConfig.from_dict({"hnsw_m": 1})
    with pytest.raises(ConfigError, match="`batch_size` must be an integer"):
        IndexConfig(batch_size="x")  # type: ignore[arg-type]
    assert (
        IndexConfig.from_dict({"rebuild_tombstone_fraction": 1}).rebuild_tombstone_fraction == 1.0
    )


def test_the_unknown_key_check_is_one_function() -> None:
    """The hand-written key checks and `_opt_*` helpers are gone: every table goes through
    `configfile.check_keys` (by way of `from_table` or `ModelConfig.from_dict`)."""
    for gone in ("_unknown", "_opt_int", "_opt_bool", "_opt_float", "_opt_folds"):
        assert not hasattr(spec, gone), gone
    assert not hasattr(checks, "_CHECK_KEYS")
    from pairlm.models import base

    assert not hasattr(base, "_coerce") and base.coerce is configfile.coerce
    src = Path(configfile.__file__).parent
    hand_written = [
        p.relative_to(src)
        for p in src.rglob("*.py")
        if "unknown key(s)" in p.read_text(encoding="utf-8") and p.name != "configfile.py"
    ]
    assert hand_written == [], hand_written
    with pytest.raises(ConfigError, match=r"members\[0\]: unknown key\(s\) weight; valid keys"):
        from pairlm.models.registry import check_member

        check_member("members[0]", {"family": "lexical", "weight": 2})


def test_a_config_error_pickles_with_where_it_happened() -> None:
    e = ConfigError("`n` must be at least 100", file="exp.toml", section="[check]", key="n")
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) == "exp.toml [check]: `n` must be at least 100"
    assert (back.file, back.section, back.key) == ("exp.toml", "[check]", "n")
    assert str(ConfigError("plain")) == "plain"
