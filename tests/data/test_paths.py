"""One cache root for everything pairlm caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairlm.data.datasets import cache_dir
from pairlm.data.readers import dropped_dir
from pairlm.models.llm.backbone import cache_root as models_root
from pairlm.paths import cache_root


def test_every_cache_lives_under_one_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRLM_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    assert {cache_dir().parent, dropped_dir().parent, models_root().parent} == {tmp_path / "c"}
    monkeypatch.delenv("PAIRLM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "pairlm"
