"""The committed results stores still merge and publish exactly what is committed.

`results/qqp-cv` and `results/learning-curve` each hold a store snapshot beside the summary,
report and docs tables made from it (`experiments/publish.py`). Rebuilding a store from the
two snapshots (`pairlm merge`, as on a new machine) and publishing it again must give the
committed `summary.json` files byte for byte and leave the docs tables and README unchanged:
a change to the store, the statistics or the report that moves a published figure fails here.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from pairlm.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ("qqp-cv", "learning-curve")


def _publish_module():
    spec = importlib.util.spec_from_file_location("publish", ROOT / "experiments" / "publish.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(
    not all((ROOT / "results" / e / "results.sqlite").is_file() for e in EXPERIMENTS),
    reason="the committed results stores are not in this checkout",
)
def test_committed_stores_merge_and_publish_unchanged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert main(["merge", str(store), *(str(ROOT / "results" / e) for e in EXPERIMENTS)]) == 0
    root = tmp_path / "checkout"
    for d in ("docs", "configs", "experiments"):
        shutil.copytree(ROOT / d, root / d)
    shutil.copy(ROOT / "README.md", root / "README.md")
    args = ["--store", str(store), "--results", str(tmp_path / "results")]
    args += ["--readme", str(root / "README.md"), "--root", str(root)]
    args += [str(ROOT / "experiments" / f"{e}.toml") for e in EXPERIMENTS]
    assert _publish_module().main(args) == 0
    for e in EXPERIMENTS:
        got = (tmp_path / "results" / e / "summary.json").read_text(encoding="utf-8")
        assert got == (ROOT / "results" / e / "summary.json").read_text(encoding="utf-8"), e
    for page in sorted((ROOT / "docs").rglob("*.md")):
        rel = page.relative_to(ROOT)
        assert (root / rel).read_text(encoding="utf-8") == page.read_text(encoding="utf-8"), rel
    assert (root / "README.md").read_text(encoding="utf-8") == (ROOT / "README.md").read_text(
        encoding="utf-8"
    )
