"""The generated parts of the documentation: config reference tables and results tables.

Each sits in a hand-written page between `<!-- pairlm:NAME:begin -->` and
`<!-- pairlm:NAME:end -->` (as `pairlm.report.readme`'s tables do) and is committed, so
`mkdocs build` needs nothing but the docs folder. Blocks and their pages:

- `config-FAMILY` in `docs/models/FAMILY.md`: every key of the family's config dataclass;
- `config-experiment-SECTION` in `docs/experiments.md`: every key of each experiment-file table;
- `config-serve` in `docs/service.md`: every key of `[serve]`;
- `results-NAME` in `docs/results/NAME.md`: every run and comparison of
  `results/NAME/summary.json`;
- `headline` in `README.md` and `docs/results/index.md`: the "which model" table;
- `behaviour-tests` in `docs/behaviour.md`: every test of the behavioural suite;
- `endpoints` in `docs/service.md`: every HTTP route, from its function's docstring;
- `formats` in `docs/data.md`: every reader format (`data.readers.api.FORMAT_DOCS`);
- `families` in `docs/models/index.md`: every family pairlm ships, with its registry
  description and page, and `nav-models` in `mkdocs.yml` (YAML comment markers): their
  pages in the site's navigation. A family without a page gets one (`family_page`: its
  description, note and config table; the prose around them is the author's to add).

The tables come from the code (`pairlm.configdoc`: key, type, default, attribute docstring)
and the committed summaries. Regenerate them with

    python -m pairlm.report.docs            # rewrite every block from the code and results/
    python -m pairlm.report.docs --check    # exit 1 naming each stale block (the tests do this)

`experiments/publish.py` rewrites the results blocks when it publishes new summaries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pairlm.configdoc import markdown_table
from pairlm.report.readme import headline, render, replace_blocks, stale_blocks

HEADLINE_SUMMARY = "qqp-cv"
"""The results folder the headline table is made from."""


def experiment_sections() -> list[tuple[str, type]]:
    """(table, documenting dataclass) of every table an experiment file may hold."""
    from pairlm.evaluation.cv import Protocol
    from pairlm.experiments.checks import CheckSpec
    from pairlm.experiments.sections import DataTable, ExperimentTable, TransferTable
    from pairlm.experiments.spec import RunSpec, TargetSpec

    return [
        ("experiment", ExperimentTable),
        ("data", DataTable),
        ("protocol", Protocol),
        ("runs", RunSpec),
        ("transfer", TransferTable),
        ("transfer-target", TargetSpec),
        ("check", CheckSpec),
    ]


def serve_config() -> type:
    from pairlm.serve.config import ServeConfig

    return ServeConfig


def family_config(family: str) -> type:
    """The config dataclass of a registered family (imports the family's module)."""
    from pairlm.models.registry import get_family

    return get_family(family).config_cls


def shipped_families() -> list[str]:
    """The families pairlm ships (a plug-in registered at run time is not documented here)."""
    from pairlm.models.registry import info, targets

    # in the registry's order (simplest first), not alphabetical
    return [f for f in targets() if info(f).target.startswith("pairlm.")]


def config_classes() -> dict[str, type]:
    """Block name -> config dataclass, for every family pairlm ships, every experiment-file
    table and the service."""
    out = {f"config-{f}": family_config(f) for f in shipped_families()}
    out.update({f"config-experiment-{n}": cls for n, cls in experiment_sections()})
    out["config-serve"] = serve_config()
    return out


def families_table() -> str:
    """`docs/models/index.md`'s table: every shipped family, what it is, its page."""
    from pairlm.models.registry import info

    rows = ["| family | what | page |", "|---|---|---|"]
    for f in shipped_families():
        what = info(f).description.replace("|", "\\|")
        rows.append(f"| `{f}` | {what} | [{f}]({f}.md) |")
    return "\n".join(rows)


def formats_table() -> str:
    """`docs/data.md`'s table of the reader formats (`data.readers.api.FORMAT_DOCS`)."""
    from pairlm.data.readers.api import FORMAT_DOCS, READERS

    rows = ["| format | what | columns |", "|---|---|---|"]
    for fmt in READERS:
        what, columns = FORMAT_DOCS[fmt]
        rows.append(f"| `{fmt}` | {what} | {columns} |")
    return "\n".join(rows)


def endpoints_table() -> str:
    """`docs/service.md`'s table of the HTTP endpoints, from the route functions' docstrings
    (`serve.routes.endpoint_rows`)."""
    from pairlm.serve.routes import endpoint_rows

    rows = ["| method and path | what | needs |", "|---|---|---|"]
    rows += [f"| `{route}` | {what} | {needs} |" for route, what, needs in endpoint_rows()]
    return "\n".join(rows)


def models_nav() -> str:
    """`mkdocs.yml`'s navigation entries of the family pages (inside "Model families")."""
    return "\n".join(f"      - {f}: models/{f}.md" for f in shipped_families())


def family_page(family: str) -> str:
    """The first version of a family's page, for a family that has none: its registry
    description and note, and an empty config block (`write` fills it)."""
    from pairlm.models.registry import info

    fi = info(family)
    note = f"\n\n{fi.note[0].upper()}{fi.note[1:]}." if fi.note else ""
    block = f"config-{family}"
    return (
        f"# {family}\n\n{fi.description[0].upper()}{fi.description[1:]}.{note}\n\n"
        f"## Configuration\n\n<!-- pairlm:{block}:begin -->\n<!-- pairlm:{block}:end -->\n"
    )


def config_page(block: str) -> str:
    """The docs page (relative to the repository root) that holds config block `block`."""
    if block.startswith("config-experiment-"):
        return "docs/experiments.md"
    if block == "config-serve":
        return "docs/service.md"
    return f"docs/models/{block.removeprefix('config-')}.md"


def shipped_configs(root: Path) -> dict[str, dict[str, Any]]:
    """`configs/*.toml` of the checkout at `root`: path (as written in docs) -> its keys."""
    from pairlm.configfile import load_config_file

    return {
        f"configs/{p.name}": load_config_file(p) for p in sorted((root / "configs").glob("*.toml"))
    }


def results_blocks(root: Path, summaries: list[Path]) -> dict[str, dict[str, str]]:
    """Page -> {block: content} of the results tables made from `summaries` (each
    `results/NAME/summary.json`): `docs/results/NAME.md` where that page exists, and the
    headline table in README.md and `docs/results/index.md` when the headline summary is one
    of them."""
    pages: dict[str, dict[str, str]] = {}
    for s in summaries:
        name = s.parent.name
        summary = json.loads(s.read_text(encoding="utf-8"))
        if (root / "docs" / "results" / f"{name}.md").is_file():
            pages.setdefault(f"docs/results/{name}.md", {})[f"results-{name}"] = render(summary)
        if name == HEADLINE_SUMMARY:
            table = headline(summary, shipped_configs(root))
            for page in ("README.md", "docs/results/index.md"):
                pages.setdefault(page, {})["headline"] = table
    return pages


def behaviour_tests_table() -> str:
    """Every test of the behavioural suite: kind, template family, the augmentations that
    cover it (none: an unseen family) and what it checks."""
    from pairlm.evaluation.behaviour.suite import TESTS

    rows = [
        "| test | kind | template family | augmentations that make such pairs | what it checks |",
        "|---|---|---|---|---|",
    ]
    for t in TESTS:
        seen = ", ".join(f"`{k}`" for k in t.covered_by) or "none (unseen)"
        text = t.description.replace("|", "\\|")
        rows.append(f"| `{t.name}` | {t.kind} | {t.family} | {seen} | {text} |")
    return "\n".join(rows) + "\n"


def committed_summaries(root: Path) -> list[Path]:
    """The published summaries (`results/*/summary.json`, less runs still in progress)."""
    return sorted(
        p for p in (root / "results").glob("*/summary.json") if p.parent.name != "in-progress"
    )


def all_blocks(root: Path) -> dict[str, dict[str, str]]:
    """Page -> {block: content} of every generated block of the docs and the README."""
    pages: dict[str, dict[str, str]] = {}
    for block, cls in config_classes().items():
        pages.setdefault(config_page(block), {})[block] = markdown_table(cls)
    for page, blocks in results_blocks(root, committed_summaries(root)).items():
        pages.setdefault(page, {}).update(blocks)
    pages.setdefault("docs/behaviour.md", {})["behaviour-tests"] = behaviour_tests_table()
    pages.setdefault("docs/models/index.md", {})["families"] = families_table()
    pages.setdefault("mkdocs.yml", {})["nav-models"] = models_nav()
    pages.setdefault("docs/data.md", {})["formats"] = formats_table()
    pages.setdefault("docs/service.md", {})["endpoints"] = endpoints_table()
    return pages


def _new_page(page: str) -> str | None:
    """The first version of a generated page that does not exist yet (a family's), else None."""
    if page.startswith("docs/models/") and page != "docs/models/index.md":
        return family_page(page.removeprefix("docs/models/").removesuffix(".md"))
    return None


def write(root: Path, pages: dict[str, dict[str, str]]) -> list[str]:
    """Rewrite `pages`' blocks under `root`; returns the pages changed."""
    changed = []
    for page, blocks in pages.items():
        path = root / page
        first = None if path.is_file() else _new_page(page)
        text = first if first is not None else path.read_text(encoding="utf-8")
        new = replace_blocks(text, blocks, page)
        if new != text or first is not None:
            path.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def stale(root: Path, pages: dict[str, dict[str, str]]) -> list[str]:
    """`page: block` for each block under `root` that differs from `pages` (or is missing)."""
    out = []
    for page, blocks in pages.items():
        path = root / page
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        out += [f"{page}: {b}" for b in stale_blocks(text, blocks)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="regenerate the docs' generated tables")
    ap.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    ap.add_argument("--check", action="store_true", help="only report stale blocks")
    args = ap.parse_args(argv)
    pages = all_blocks(args.root)
    if args.check:
        bad = stale(args.root, pages)
        for b in bad:
            print(f"stale: {b}", file=sys.stderr)
        return 1 if bad else 0
    for page in write(args.root, pages):
        print(f"updated {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
