"""The results tables (docs/results/*.md, and the headline table in README.md and
docs/results/index.md) are generated from the committed summaries and match them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pairlm.report.docs import committed_summaries, results_blocks, stale
from pairlm.report.readme import check, headline, render, update

ROOT = Path(__file__).resolve().parents[2]
# results/in-progress holds runs still going (experiments/publish.py): no results page
SUMMARIES = committed_summaries(ROOT)


def test_every_committed_summary_has_an_up_to_date_results_page_and_headline() -> None:
    if not SUMMARIES:
        pytest.skip("no committed results/*/summary.json")
    pages = results_blocks(ROOT, SUMMARIES)
    for s in SUMMARIES:
        assert f"docs/results/{s.parent.name}.md" in pages, f"no docs page for {s}"
    assert "headline" in pages["README.md"] and "headline" in pages["docs/results/index.md"]
    bad = stale(ROOT, pages)
    assert not bad, f"results tables out of date: {bad}; run python -m pairlm.report.docs"


def test_the_readme_keeps_only_the_headline_table_and_stays_short() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("<!-- pairlm:") == 2  # the headline block's begin and end
    assert len(text.splitlines()) <= 200


def _run(name: str, family: str, config: dict, f1: float, fit: float) -> dict:
    return {
        "name": name,
        "family": family,
        "config": config,
        "n_train_per_fold": 19000.0,
        "f1_mean": f1,
        "f1_ci": [f1 - 0.01, f1 + 0.01],
        "auc_mean": 0.9,
        "fit_seconds_per_fold": fit,
        "pairs_per_second": 4.38,
    }


def test_headline_lists_the_shipped_configs_and_family_defaults() -> None:
    lora = {"backbone": "smollm2", "r": 16}
    member = {"family": "llm-lora", "config": {**lora, "checkpoint_dir": "runs/ckpt/x"}}
    summary = {
        "runs": [
            _run("stack", "ensemble", {"members": [{"family": "lexical"}, member]}, 0.83, 900),
            _run("lora", "llm-lora", {**lora, "checkpoint_dir": "runs/ckpt/x"}, 0.80, 1800),
            _run("tuned", "lexical", {"C": 0.5}, 0.76, 60),
            _run("lexical", "lexical", {}, 0.75, 70),
        ]
    }
    shipped = {
        "configs/lora.toml": lora,
        "configs/stack.toml": {
            "members": [{"family": "lexical"}, {"family": "llm-lora", "config": lora}]
        },
    }
    table = headline(summary, shipped)
    assert (
        "| stack | `--model ensemble --config configs/stack.toml` | 0.830 [0.820, 0.840]" in table
    )
    assert "| 900 + 1,800 (lora) | 4.4 |" in table  # the member resumed the lora run's training
    assert "| lora | `--model llm-lora --config configs/lora.toml` |" in table
    assert "| lexical | `--model lexical` |" in table
    assert "tuned" not in table  # neither shipped nor the defaults


def test_update_then_check(tmp_path: Path) -> None:
    summary = {
        "runs": [
            {
                "name": "a",
                "family": "lexical",
                "folds": 10,
                "folds_total": 10,
                "n_train_per_fold": 19000.0,
                "n_test_per_fold": 2349.3,
                "f1_mean": 0.75,
                "f1_ci": [0.74, 0.76],
                "f1_sd": 0.01,
                "auc_mean": 0.87,
                "fit_seconds_per_fold": 20.0,
            }
        ],
        "comparisons": [
            {
                "a": "b",
                "b": "a",
                "n_folds": 10,
                "delta_f1": -0.02,
                "delta_f1_ci": [-0.03, -0.01],
                "p_corrected_t_holm": 0.00001,
                "p_mcnemar_holm": None,
                "n_pairs": 23493,
            }
        ],
    }
    d = tmp_path / "exp"
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(summary))
    md = tmp_path / "R.md"
    md.write_text("x\n<!-- pairlm:exp:begin -->\nstale\n<!-- pairlm:exp:end -->\ny\n")
    assert check(md, [d / "summary.json"]) == ["exp"]
    assert update(md, [d / "summary.json"]) == ["exp"]
    assert check(md, [d / "summary.json"]) == []
    text = md.read_text()
    assert text.startswith("x\n") and text.endswith("y\n") and "stale" not in text
    assert "| a | lexical | 10/10 | 19,000 | 2,349 | 0.750 | [0.740, 0.760]" in text
    assert "< 0.0001" in render(summary)
    (tmp_path / "bad.md").write_text("no block")
    with pytest.raises(ValueError, match="pairlm:exp:begin"):
        update(tmp_path / "bad.md", [d / "summary.json"])
    summary["learning_curves"] = [
        {
            "series": "lexical on qqp",
            "points": [
                {"run": r, "n_train_per_fold": n, "f1_mean": f, "f1_ci": [f - 0.01, f + 0.01]}
                | {"folds": 10, "folds_total": 10}
                for r, n, f in (("a-1k", 1000.0, 0.65), ("a", 19000.0, 0.75))
            ],
            "f1_per_doubling": 0.0236,
            "extrapolated": {"n_train_per_fold": 90000, "f1": 0.803},
        }
    ]
    assert "| lexical on qqp | 1,000: 0.650 [0.640, 0.660], 10/10; 19,000: 0.750" in render(summary)
    assert "| +0.024 | 0.803 at 90,000 |" in render(summary)


def test_committed_snapshots_merge_into_one_store_holding_every_summarised_run(
    tmp_path: Path,
) -> None:
    """The README's recovery step (`pairlm merge runs/qqp-cv results/qqp-cv
    results/learning-curve`) works on what is committed, and the rebuilt store holds every
    run the summaries report, with as many finished folds."""
    from pairlm.evaluation.store import ResultStore

    snaps = [ROOT / "results" / n for n in ("qqp-cv", "learning-curve")]
    if not all((s / "results.sqlite").exists() and (s / "summary.json").exists() for s in snaps):
        pytest.skip("no committed results/{qqp-cv,learning-curve} snapshots")
    with ResultStore(tmp_path) as store:
        for s in snaps:
            store.merge(s)
        folds = {r.name: len(store.finished_folds(r.run_id)) for r in store.runs()}
    for s in snaps:
        for run in json.loads((s / "summary.json").read_text())["runs"]:
            assert folds.get(run["name"]) == run["folds"], (s.name, run["name"])
