"""The family descriptors: `pairlm models`, the runner's memory estimates, plug-ins."""

from __future__ import annotations

import pytest

from pairlm.cli import main
from pairlm.errors import ConfigError
from pairlm.models import registry


def test_pairlm_models_describes_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in registry.available():
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert registry.info(name).description in line
    assert "Q4_1" in out  # the default LLM backbone's weights are said


def test_descriptor_of_a_plugin_registered_by_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._FAMILIES, "plug", "tests.slow_model:SlowLexical")
    assert registry.info("plug").target == "tests.slow_model:SlowLexical"
    assert registry.info("plug").memory_gb == 2.0
    assert registry.targets()["plug"] == "tests.slow_model:SlowLexical"
    with pytest.raises(KeyError, match="unknown model family 'nosuch'"):
        registry.info("nosuch")


def test_installed_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    fam = registry.FamilyInfo("x:Y", requires=("sklearn", "no_such_module_here"))
    monkeypatch.setitem(registry._FAMILIES, "needy", fam)
    assert registry.installed("needy") == (False, ["no_such_module_here"])
    assert registry.installed("lexical") == (True, [])


def test_data_list_says_where_each_dataset_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("PAIRLM_DATA_DIR", str(tmp_path))  # nothing here
    monkeypatch.setenv("PAIRLM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "[downloadable]" in out and "[not available here]" in out
    (tmp_path / "qqp").mkdir()
    (tmp_path / "qqp" / "bimpm-dev-balanced.tsv").write_text("1\ta\tb\t1\n")
    assert main(["data", "list"]) == 0
    assert f"[local: {tmp_path / 'qqp' / 'bimpm-dev-balanced.tsv'}]" in capsys.readouterr().out


def test_load_model_finds_the_family_and_a_family_class_loads_only_its_own(tmp_path) -> None:
    from pairlm.models.base import PairClassifier
    from pairlm.models.lexical import LexicalClassifier
    from pairlm.models.siamese_cnn import SiameseCNNClassifier
    from tests.conftest import make_toy_pairs
    from tests.models.tiny_lexical import make_tiny

    train, valid = make_toy_pairs(60, seed=0), make_toy_pairs(30, seed=1)
    model = make_tiny(tmp_path)
    model.fit(train, valid)
    model.save(tmp_path / "m")
    loaded = registry.load_model(tmp_path / "m")
    assert type(loaded) is LexicalClassifier
    assert LexicalClassifier.load(tmp_path / "m").threshold_ == model.threshold_
    with pytest.raises(TypeError, match=r"holds a .lexical. model, not a SiameseCNNClassifier$"):
        SiameseCNNClassifier.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="not a saved pairlm model"):
        registry.load_model(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pairlm_model.json").write_text('{"family": "lexical", "config": {}}')
    with pytest.raises(ConfigError, match=r"bad/pairlm_model.json: not a valid pairlm model file"):
        registry.load_model(bad)
    (bad / "pairlm_model.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid pairlm model file"):
        registry.load_model(bad)
    assert issubclass(LexicalClassifier, PairClassifier)


def test_runtime_keys_name_real_config_fields() -> None:
    """A family's runtime keys (left out of a run's identity) must be fields of its config."""
    import dataclasses

    for name in registry.available():
        cls = registry.get_family(name).config_cls
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(cls.runtime_keys) <= fields, (name, set(cls.runtime_keys) - fields)
