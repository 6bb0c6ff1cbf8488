"""The one-way layers hold: import-linter's contracts (pyproject.toml) are all kept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install 'pairlm[dev]')")
    r = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


MAX_LINES = 700


def test_no_source_file_holds_more_than_one_screenful_of_concepts() -> None:
    """Issue 13's bound: a module over 700 lines mixes concerns; split it by concern."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / "src" / "pairlm").rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"
