"""The documentation site builds with `mkdocs build --strict` (a broken link, anchor or page
fails), and the built config reference holds every key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def test_the_docs_build_strictly_and_hold_every_config_key(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install 'pairlm[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed ('pairlm[docs]')")
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    from pairlm.report.docs import config_classes, config_page

    for block, cls in config_classes().items():
        page = config_page(block).removeprefix("docs/").removesuffix(".md")
        html = (site / page / "index.html").read_text(encoding="utf-8")
        for f in dataclasses.fields(cls):
            assert f"<td><code>{f.name}</code></td>" in html, f"{f.name} ({block}) not in {page}"
