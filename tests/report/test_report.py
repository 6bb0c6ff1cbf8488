from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from pairlm.cli import main
from pairlm.evaluation.cv import Protocol, config_identity, cross_validate, prepare
from pairlm.evaluation.store import ResultStore, StoreError
from pairlm.report import errors, plots
from pairlm.report.html import build_html, write_html
from pairlm.report.tables import summarize
from tests.conftest import lexical_toy_run, make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Three runs on the same folds (two differ only in max_train), texts stored."""
    ds = make_toy_pairs(150)
    with ResultStore(tmp_path) as store:
        proto = Protocol(folds=3)
        prep = prepare(store, ds, proto, "toy")
        store.put_pairs(
            prep.split_key, prep.dataset.pair_id, prep.dataset.text_a, prep.dataset.text_b
        )
        cross_validate(
            ds,
            "lexical",
            TINY,
            store=store,
            protocol=proto,
            run_name="full",
            dataset_name="toy",
            progress=False,
        )
        cross_validate(
            ds,
            "lexical",
            TINY,
            store=store,
            protocol=Protocol(folds=3, max_train=30),
            run_name="small",
            dataset_name="toy",
            progress=False,
        )
        cross_validate(
            ds,
            "lexical",
            {**TINY, "C": 0.01},
            store=store,
            protocol=proto,
            run_name="weak",
            dataset_name="toy",
            progress=False,
        )
    return tmp_path


def test_plots_render_png(store_dir: Path) -> None:
    with ResultStore(store_dir) as store:
        summaries = summarize(store, bootstrap=0)
        pooled = []
        for r in store.runs():
            p = store.predictions(r.run_id)
            pooled.append(plots.Pooled(r.name, p["label"], p["proba"], p["threshold"]))
    for fig in (
        plots.f1_per_method(summaries),
        plots.pr_curves(pooled),
        plots.reliability_diagram(pooled),
    ):
        png = plots.to_png(fig)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_calibration_error() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=20000) < p).astype(int)
    assert plots.expected_calibration_error(y, p) < 0.02  # calibrated by construction
    assert plots.expected_calibration_error(y, p**3) > 0.1  # not


def test_bucket_table_counts_and_f1() -> None:
    label = np.array([1, 1, 0, 0, 1, 0])
    pred = np.array([1, 0, 0, 1, 1, 0])
    values = np.array([0.1, 0.1, 0.1, 0.9, 0.9, 0.9])
    rows = errors.bucket_table(label, pred, values, np.array([0.0, 0.5, 1.01]), ["lo", "hi"])
    assert [r.n for r in rows] == [3, 3]
    assert rows[0].f1 == pytest.approx(2 / 3)  # tp 1, fn 1
    assert rows[1].f1 == pytest.approx(2 / 3)  # tp 1, fp 1
    assert errors.word_overlap(["a b c"], ["a b d"])[0] == pytest.approx(0.5)
    assert errors.pair_lengths(["a b"], ["c"])[0] == 3


def test_confident_errors_come_with_texts(store_dir: Path) -> None:
    with ResultStore(store_dir) as store:
        runs = store.runs()
        out = errors.analyse_runs(store, [r for r in runs if r.name in ("full", "weak")], k=3)
        weak = out["weak"]
        assert weak.has_texts
        p = store.predictions(store.get_run("weak").run_id)  # type: ignore[union-attr]
        n_fp = int(((p["proba"] >= p["threshold"]) & (p["label"] == 0)).sum())
        assert len(weak.false_positives) == min(3, n_fp)
        for e in weak.false_positives:
            assert e.label == 0 and e.proba >= e.threshold and e.text_a and e.text_b
        probas = [e.proba for e in weak.false_positives]
        assert probas == sorted(probas, reverse=True)
        assert sum(b.n for b in weak.by_length) == len(p["idx"])
        assert sum(b.n for b in weak.by_overlap) == len(p["idx"])


def test_html_is_self_contained_with_figures(store_dir: Path) -> None:
    with ResultStore(store_dir) as store:
        path = write_html(store, store_dir / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) >= 6  # F1, PR, reliability, learning curve, 2 bucket figures
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert base64.b64decode(s.split(",", 1)[1])[:4] == b"\x89PNG"
    assert "F1 against training-set size" in page  # full vs small differ only in max_train
    assert "Most confident false positives" in page
    for name in ("full", "small", "weak"):
        assert name in page


def test_empty_store_and_unknown_reference(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        assert "No finished folds" in build_html(store)


def test_pairlm_report_writes_md_and_html(store_dir: Path) -> None:
    assert main(["report", str(store_dir), "-q"]) == 0
    assert (store_dir / "report.md").is_file()
    assert (store_dir / "report.html").stat().st_size > 10000


def test_each_run_is_compared_on_what_it_shares_with_the_reference(tmp_path: Path) -> None:
    """A run that scored a test subsample on two folds must not shrink the McNemar and t
    comparisons of the other runs to its pairs and folds."""
    from pairlm.evaluation.stats import mcnemar_exact

    ds = make_toy_pairs(150)
    with ResultStore(tmp_path) as store:
        proto = Protocol(folds=3)
        for name, cfg, p, folds in [
            ("full", TINY, proto, None),
            ("weak", {**TINY, "C": 0.01}, proto, None),
            ("part", TINY, Protocol(folds=3, max_test=15), [0, 1]),
        ]:
            cross_validate(
                ds, "lexical", cfg, store=store, protocol=p, run_name=name,
                dataset_name="toy", only_folds=folds, progress=False,
            )  # fmt: skip
        summaries = {s.name: s for s in summarize(store, reference="full", bootstrap=0)}
        ids = {r.name: r.run_id for r in store.runs()}
        full, weak = (store.predictions(ids[n]) for n in ("full", "weak"))
    w, part = summaries["weak"].comparison, summaries["part"].comparison
    assert w["n_folds"] == 3 and w["n_mcnemar"] == 150
    pred = (weak["proba"] >= weak["threshold"]).astype(int)
    pred_ref = (full["proba"] >= full["threshold"]).astype(int)
    assert w["p_mcnemar"] == pytest.approx(mcnemar_exact(full["label"], pred, pred_ref)["p"])
    assert part["n_folds"] == 2 and part["n_mcnemar"] == 30
    assert w["p_mcnemar_holm"] >= w["p_mcnemar"]


def test_report_json_writes_the_summary(store_dir: Path) -> None:
    import json

    assert (
        main(
            ["report", str(store_dir), "-q", "--json", "--reference", "full", "--reference", "weak"]
        )
        == 0
    )
    s = json.loads((store_dir / "summary.json").read_text())
    runs = {r["name"]: r for r in s["runs"]}
    assert set(runs) == {"full", "small", "weak"}
    full = runs["full"]
    assert full["folds"] == 3 and full["family"] == "lexical"
    assert full["f1_ci"][0] <= full["f1_mean"] <= full["f1_ci"][1]
    assert runs["small"]["n_train_per_fold"] <= 30 < full["n_train_per_fold"]
    pairs = {(c["a"], c["b"]): c for c in s["comparisons"]}
    assert {("small", "full"), ("weak", "full"), ("full", "weak"), ("small", "weak")} <= set(pairs)
    c = pairs[("weak", "full")]
    expected = np.mean(np.subtract(runs["weak"]["fold_f1"], full["fold_f1"]))
    assert c["delta_f1"] == pytest.approx(expected)
    assert c["delta_f1_ci"][0] <= c["delta_f1"] <= c["delta_f1_ci"][1]
    assert 0 <= c["p_corrected_t_holm"] <= 1 and c["n_pairs"] == 150
    assert pairs[("full", "weak")]["delta_f1"] == pytest.approx(-c["delta_f1"])


def test_report_out_with_store_snapshot(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    assert main(["report", str(store_dir), "-q", "--json", "--out", str(out), "--with-store"]) == 0
    assert {"report.md", "summary.json", "results.sqlite"} <= {p.name for p in out.iterdir()}
    assert not (out / "results.sqlite-wal").exists()
    with ResultStore(out, create=False) as snap, ResultStore(store_dir, create=False) as orig:
        assert [r.name for r in snap.runs()] == [r.name for r in orig.runs()]
        for a, b in zip(snap.runs(), orig.runs()):
            np.testing.assert_array_equal(
                snap.predictions(a.run_id)["proba"], orig.predictions(b.run_id)["proba"]
            )


def test_report_runs_filter_publishes_a_subset(store_dir: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "subset"
    args = ["report", str(store_dir), "-q", "--json", "--out", str(out), "--runs", "full,weak"]
    assert main([*args, "--with-store"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert {r["name"] for r in s["runs"]} == {"full", "weak"}
    with ResultStore(out, create=False) as snap:
        assert sorted(r.name for r in snap.runs()) == ["full", "weak"]
    with ResultStore(store_dir, create=False) as orig:  # the source is untouched
        assert len(orig.runs()) == 3
    with pytest.raises(SystemExit, match="nosuch"):
        main(["report", str(store_dir), "-q", "--out", str(tmp_path / "x"), "--runs", "nosuch"])
    with pytest.raises(SystemExit, match="--out"):
        main(["report", str(store_dir), "-q", "--runs", "full"])


def test_report_store_runs_keeps_a_subset_in_the_snapshot(store_dir: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "slim"
    args = ["report", str(store_dir), "-q", "--json", "--out", str(out), "--runs", "full,weak"]
    assert main([*args, "--with-store", "--store-runs", "weak"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert {r["name"] for r in s["runs"]} == {"full", "weak"}  # reported: both runs
    with ResultStore(out, create=False) as snap, ResultStore(store_dir, create=False) as orig:
        assert [r.name for r in snap.runs()] == ["weak"]  # copied: only the one asked for
        a, b = snap.get_run("weak"), orig.get_run("weak")
        assert a is not None and b is not None
        np.testing.assert_array_equal(
            snap.predictions(a.run_id)["proba"], orig.predictions(b.run_id)["proba"]
        )
    with pytest.raises(SystemExit, match="--with-store"):
        main([*args, "--store-runs", "weak"])
    with pytest.raises(SystemExit, match="small"):
        main([*args, "--with-store", "--store-runs", "small"])


def _store_contents(d: Path) -> dict[str, dict[int, tuple[float, list[float]]]]:
    """run name -> fold -> (F1, that fold's out-of-fold probabilities in index order)"""
    out: dict[str, dict[int, tuple[float, list[float]]]] = {}
    with ResultStore(d, create=False) as s:
        for r in s.runs():
            preds = s.predictions(r.run_id)
            out[r.name] = {
                f.fold: (f.metrics["f1"], preds["proba"][preds["fold"] == f.fold].tolist())
                for f in s.fold_results(r.run_id)
            }
    return out


def test_merge_rebuilds_a_store_from_its_published_snapshots(
    store_dir: Path, tmp_path: Path
) -> None:
    """A lost store comes back from the snapshots `--store-runs` split it into, and a run
    resumed in it skips the folds it already has."""
    a, b = tmp_path / "pub-a", tmp_path / "pub-b"
    base = ["report", str(store_dir), "-q", "--with-store", "--runs", "full,small,weak"]
    assert main([*base, "--out", str(a), "--store-runs", "full"]) == 0
    assert main([*base, "--out", str(b), "--store-runs", "small,weak"]) == 0
    rebuilt = tmp_path / "rebuilt"
    assert main(["merge", str(rebuilt), str(a), str(b)]) == 0
    assert _store_contents(rebuilt) == _store_contents(store_dir)
    with ResultStore(rebuilt, create=False) as s:
        assert s.all_pair_texts(s.runs()[0].split_key)["text_a"].size == 150
        assert s.merge(a) == {"runs_added": 0, "folds_added": 0, "folds_kept": 3}
        full = s.get_run("full")
        assert full is not None
        finished = s.fold_finished_at(full.run_id)
        assert len(finished) == 3
        lexical_toy_run(s, TINY, "full")
        assert s.fold_finished_at(full.run_id) == finished  # resumed: nothing refitted


def test_a_store_merged_in_another_order_reports_as_before(store_dir: Path, tmp_path: Path) -> None:
    """Runs are listed by creation time, which a merge keeps: a store rebuilt from its
    snapshots in any order publishes the same summary (no churn in committed results)."""
    a, b = tmp_path / "pub-a", tmp_path / "pub-b"
    base = ["report", str(store_dir), "-q", "--with-store", "--runs", "full,small,weak"]
    assert main([*base, "--out", str(a), "--store-runs", "full"]) == 0
    assert main([*base, "--out", str(b), "--store-runs", "small,weak"]) == 0
    rebuilt = tmp_path / "rebuilt"
    assert main(["merge", str(rebuilt), str(b), str(a)]) == 0  # "full" gets the last run id
    with ResultStore(rebuilt, create=False) as s:
        assert s.get_run("full").run_id == 3  # type: ignore[union-attr]
        assert [r.name for r in s.runs()] == ["full", "small", "weak"]
    for d, out in ((store_dir, "sum-original"), (rebuilt, "sum-rebuilt")):
        assert main(["report", str(d), "-q", "--json", "--out", str(tmp_path / out)]) == 0
    summaries = [
        (tmp_path / o / "summary.json").read_text() for o in ("sum-original", "sum-rebuilt")
    ]
    assert summaries[0] == summaries[1]


def test_merge_adds_missing_folds_and_refuses_a_conflicting_run(
    store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part = tmp_path / "part"
    with ResultStore(part) as s:  # the same run with only fold 1, as another machine ran it
        # its config spells out a default: the same run by meaning
        lexical_toy_run(s, {**TINY, "C": 1.0}, "full", [1])
        with pytest.raises(StoreError, match="'full' has another config"):
            s.merge(store_dir)  # compared as stored, the configs differ
        assert s.merge(store_dir, canonical=config_identity) == {
            "runs_added": 2,
            "folds_added": 8,
            "folds_kept": 1,
        }
    assert _store_contents(part) == _store_contents(store_dir)

    other = tmp_path / "other"
    with ResultStore(other) as s:  # "weak" with another config: met after two good runs
        lexical_toy_run(s, {**TINY, "C": 5.0}, "weak", [0])
    before = _store_contents(other)
    assert main(["merge", str(other), str(store_dir)]) == 2
    assert "run 'weak' has another config" in capsys.readouterr().err
    assert _store_contents(other) == before  # nothing copied, not even the other runs
    assert main(["merge", str(tmp_path / "new"), str(tmp_path / "nothing")]) == 2
    assert "no results in" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_learning_curve_fit_and_extrapolation() -> None:
    from pairlm.report.curves import fit, markdown, summary_entries
    from pairlm.report.plots import CurvePoint

    # F1 = 0.5 + 0.02 · log2(n): the fit recovers it and carries it to 90,000 pairs
    pts = [CurvePoint(n, 0.5 + 0.02 * math.log2(n), (0.4, 0.6), f"r{n}") for n in (1000, 4000)]
    f = fit(pts)
    assert f is not None and f.per_doubling == pytest.approx(0.02)
    assert f.predict(90_000) == pytest.approx(0.5 + 0.02 * math.log2(90_000))
    assert fit(pts[:1]) is None  # one size: no line
    one = [CurvePoint(500, 0.7, (math.nan, math.nan), "one")]
    three = [*pts, CurvePoint(16384, 0.5 + 0.02 * 14, (0.7, 0.8), "r16384")]
    entries = summary_entries(
        {"a": pts, "b": one + one, "c": three}, {p.name: (3, 10) for p in three + one}
    )
    # two sizes give a slope but no extrapolation; three sizes give both
    assert entries[0]["f1_per_doubling"] == pytest.approx(0.02)
    assert entries[0]["extrapolated"] is None
    assert entries[2]["extrapolated"]["n_train_per_fold"] == 90_000
    assert entries[2]["extrapolated"]["f1"] == pytest.approx(0.5 + 0.02 * math.log2(90_000))
    assert entries[1]["f1_per_doubling"] is None and entries[1]["points"][0]["f1_ci"] == [
        None,
        None,
    ]
    json.dumps(entries, allow_nan=False)  # valid JSON: no NaN
    md = markdown(entries)
    assert "| a | 1,000: 0.699 [0.400, 0.600], 3/10; 4,000: 0.739" in md and "+0.020" in md
    assert "| +0.020 | — |" in md and "at 90,000" in md
    assert markdown([]) == ""


def test_report_json_and_md_hold_the_learning_curves(store_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["report", str(store_dir), "--json", "-q", "--out", str(out)]) == 0
    curves = json.loads((out / "summary.json").read_text())["learning_curves"]
    assert len(curves) == 1  # "full" and "small" differ only in max_train; "weak" stands alone
    assert [p["run"] for p in curves[0]["points"]] == ["small", "full"]
    assert curves[0]["f1_per_doubling"] is not None
    assert "## Learning curves" in (out / "report.md").read_text()


def test_the_terminal_table_fits_100_columns_with_whole_run_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default results table: at most 100 columns however long the run names (up to
    what pairlm's own experiments use), every name whole; --wide keeps every column."""
    from pairlm.cli.experiment_commands import print_results

    long = "smollm2-lora-full-al16-order-sym-a"  # longer than any committed run name
    with ResultStore(tmp_path) as store:
        lexical_toy_run(store, {"max_word_features": 300, "n_bins": 4}, "lexical")
        lexical_toy_run(store, {"max_word_features": 100, "n_bins": 3}, long)
    print_results(tmp_path, "lexical")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= 100, out
    assert any(x.startswith(long + " ") for x in lines), out
    assert "P Holm" in out and "McNemar" not in lines[1]
    print_results(tmp_path, "lexical", wide=True)
    wide = capsys.readouterr().out
    assert "P McNemar" in wide and "backbone" in wide


def test_the_report_names_the_experiment_not_a_temporary_folder(tmp_path: Path) -> None:
    src = tmp_path / "runs" / "exp"
    with ResultStore(src) as store:
        lexical_toy_run(store, {"max_word_features": 300, "n_bins": 4}, "lexical")
        lexical_toy_run(store, {"max_word_features": 100, "n_bins": 3}, "lexical-small")
    out = tmp_path / "results" / "exp"
    args = ["report", str(src), "--out", str(out), "--runs", "lexical", "--with-store", "-q"]
    assert main([*args, "--experiment", "toy-cv"]) == 0
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for text in (md, page):
        assert "pairlm-report-" not in text and text.count(str(src.resolve())) >= 1
        assert "experiment toy-cv" in text.lower() and "results.sqlite" in text
    assert str(src.resolve()) in md  # outside the working directory: the absolute path


def test_a_name_too_long_for_100_columns_widens_the_table_and_cuts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pairlm.cli.experiment_commands import print_results

    long = "a-run-name-far-too-long-for-one-hundred-columns-x"
    with ResultStore(tmp_path) as store:
        lexical_toy_run(store, {"max_word_features": 300, "n_bins": 4}, "lexical")
        lexical_toy_run(store, {"max_word_features": 100, "n_bins": 3}, long)
    print_results(tmp_path, "lexical")
    lines = capsys.readouterr().out.splitlines()
    row = next(x for x in lines if x.startswith(long + " "))
    assert len(row.split()) == 8, row  # name, folds, F1, ΔF1, P, AUC, fit s, pairs/s
    assert row.split()[-1].replace(",", "").replace(".", "").isdigit(), row  # pairs/s whole
