from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from pairlm.cli import main
from pairlm.data.pairs import PairDataset
from pairlm.evaluation.store import ResultStore
from pairlm.experiments.runner import (
    RunFailed,
    load_experiment,
    parse_experiment,
    run_experiment,
)
from pairlm.models import registry
from pairlm.models.base import ConfigError
from pairlm.models.lexical import LexicalClassifier
from tests.conftest import REPO_ROOT, make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}
_CFG = "\n".join(f"{k} = {v}" for k, v in TINY.items())


def _write_data(tmp_path: Path, n: int = 90, seed: int = 0, name: str = "pairs.jsonl") -> Path:
    p = tmp_path / name
    make_toy_pairs(n, seed=seed).to_frame().to_json(p, orient="records", lines=True)
    return p


def _exp(tmp_path: Path, runs: str, folds: int = 3, extra: str = "") -> Path:
    _write_data(tmp_path)
    f = tmp_path / "exp.toml"
    f.write_text(
        f'[experiment]\nname = "t"\n[data]\ndataset = "pairs.jsonl"\n'
        f"[protocol]\nfolds = {folds}\nsubsample = 100000\n{runs}\n{extra}",
        encoding="utf-8",
    )
    return f


def _run(name: str, model: str = "lexical", more: str = "") -> str:
    return f'[[runs]]\nname = "{name}"\nmodel = "{model}"\n{more}\n[runs.config]\n{_CFG}\n'


def _metrics(out: Path) -> dict[str, list[dict[str, float]]]:
    with ResultStore(out) as store:
        return {r.name: [f.metrics for f in store.fold_results(r.run_id)] for r in store.runs()}


def _finished_at(out: Path) -> dict[tuple[str, int], float]:
    con = sqlite3.connect(out / "results.sqlite", timeout=30)
    try:
        rows = con.execute(
            "SELECT r.name, f.fold, f.finished_at FROM folds f JOIN runs r USING (run_id)"
        ).fetchall()
    except sqlite3.OperationalError:  # the store is being created right now
        rows = []
    finally:
        con.close()
    return {(n, int(k)): float(t) for n, k, t in rows}


# ---------------------------------------------------------------------- parsing
def test_validation_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key.*colour"):
        parse_experiment({"data": {"dataset": "x"}, "runs": [{"model": "lexical", "colour": 1}]})
    with pytest.raises(ConfigError, match="max_train"):
        parse_experiment(
            {"data": {"dataset": "x"}, "runs": [{"model": "lexical", "max_train": "many"}]}
        )
    with pytest.raises(ConfigError, match="unknown model family 'nope'"):
        parse_experiment({"data": {"dataset": "x"}, "runs": [{"model": "nope"}]})
    with pytest.raises(ConfigError, match=r"\[\[transfer\]\] #1.*targets"):
        parse_experiment(
            {
                "data": {"dataset": "x"},
                "runs": [{"model": "lexical"}],
                "transfer": [{"run": "lexical"}],
            }
        )
    with pytest.raises(ConfigError, match="names no \\[\\[runs\\]\\] entry"):
        parse_experiment(
            {
                "data": {"dataset": "x"},
                "runs": [{"model": "lexical"}],
                "transfer": [{"run": "other", "targets": ["y"]}],
            }
        )


def test_optional_runs_of_unknown_families_are_skipped() -> None:
    exp = parse_experiment(
        {
            "data": {"dataset": "x"},
            "runs": [
                {"model": "lexical"},
                {
                    "name": "lora",
                    "model": "llm-lora-x",
                    "optional": True,
                    "config": {"whatever": 1},
                },
            ],
            "transfer": [{"run": "lora", "targets": ["y"]}],
        }
    )
    assert [r.name for r in exp.runs] == ["lexical"]
    assert [n for n, _ in exp.skipped] == ["lora", "lora"]
    with pytest.raises(ConfigError, match="optional"):
        parse_experiment(
            {"data": {"dataset": "x"}, "runs": [{"model": "lexical", "optional": "yes"}]}
        )


def test_shipped_experiment_files_validate() -> None:
    for name in ("quickstart", "paper", "transfer"):
        exp = load_experiment(REPO_ROOT / "experiments" / f"{name}.toml")
        assert exp.runs or exp.transfers
    paper = load_experiment(REPO_ROOT / "experiments" / "paper.toml")
    assert paper.protocol.folds == 10 and paper.protocol.subsample == 100_000
    # the paper's comparison at full size: only the prompting runs (which train nothing) cap
    trained = [r for r in paper.runs if r.model not in ("llm-zeroshot", "llm-fewshot")]
    assert trained and all(r.max_train is None for r in trained)
    assert {"llm-zeroshot", "llm-fewshot", "llm-lora"} <= {r.model for r in paper.runs}
    gpu = load_experiment(REPO_ROOT / "experiments" / "paper-gpu.toml")
    assert gpu.protocol.subsample == 100_000
    (qlora,) = [r for r in gpu.runs if r.model == "llm-lora"]
    assert qlora.config["load_in"] == "4bit" and qlora.config["device"] == "cuda"
    transfer = load_experiment(REPO_ROOT / "experiments" / "transfer.toml")
    assert {t.name for x in transfer.transfers for t in x.targets} == {"mrpc", "stsb"}
    # the demo shows the paper's comparison: LoRA beside the prompting runs, on the same fold
    quick = load_experiment(REPO_ROOT / "experiments" / "quickstart.toml")
    llm = [r for r in quick.runs if r.model.startswith("llm-")]
    assert {r.model for r in llm} == {"llm-zeroshot", "llm-fewshot", "llm-lora"}
    assert all(r.fold_ids == [0] for r in llm)


# ---------------------------------------------------------------------- running
@pytest.mark.slow
def test_parallel_workers_give_the_numbers_of_a_sequential_run(tmp_path: Path) -> None:
    runs = _run("a") + _run("b", more="max_train = 40") + _run("c", more="max_test = 20")
    exp = _exp(tmp_path, runs)
    run_experiment(exp, tmp_path / "seq", progress=False)
    run_experiment(exp, tmp_path / "par", progress=False, workers=3, memory_budget_gb=100.0)
    seq, par = _metrics(tmp_path / "seq"), _metrics(tmp_path / "par")
    assert set(par) == {"a", "b", "c"}
    assert all(len(v) == 3 for v in par.values())
    assert seq == par
    with ResultStore(tmp_path / "par") as store:
        run = store.get_run("a")
        assert run is not None and store.has_pairs(run.split_key)
        # every pair scored once per run, out of fold
        assert len(store.predictions(run.run_id)["idx"]) == len(
            store.all_pair_texts(run.split_key)["idx"]
        )


def test_only_and_fold_ids_then_resume_without_redoing(tmp_path: Path) -> None:
    exp = _exp(tmp_path, _run("a") + _run("b"))
    out = tmp_path / "out"
    run_experiment(exp, out, only=["a"], folds=[0], progress=False)
    assert {k: len(v) for k, v in _metrics(out).items()} == {"a": 1}
    before = _finished_at(out)
    run_experiment(exp, out, progress=False)
    after = _finished_at(out)
    assert len(after) == 6
    assert after[("a", 0)] == before[("a", 0)]  # not recomputed
    with pytest.raises(ConfigError, match="no run named zz"):
        run_experiment(exp, out, only=["zz"], progress=False)


def test_a_run_limited_to_its_fold_ids(tmp_path: Path) -> None:
    exp = _exp(tmp_path, _run("all") + _run("few", more="fold_ids = [2, 0]"))
    out = tmp_path / "out"
    run_experiment(exp, out, folds=[0, 1], progress=False)  # --fold-ids meets fold_ids: 0
    assert sorted(k for k in _finished_at(out) if k[0] == "few") == [("few", 0)]
    run_experiment(exp, out, progress=False)
    done = _finished_at(out)
    assert sorted(k[1] for k in done if k[0] == "few") == [0, 2]
    assert sorted(k[1] for k in done if k[0] == "all") == [0, 1, 2]
    assert main(["report", str(out), "--json", "-q"]) == 0
    runs = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["runs"]}
    assert (runs["few"]["folds"], runs["few"]["folds_total"]) == (2, 3)
    for bad in ("[3]", "[]", "[0, 0]", '["0"]', "0"):
        with pytest.raises(ConfigError, match=r"#2: `fold_ids` must be a non-empty list"):
            load_experiment(_exp(tmp_path, _run("a") + _run("b", more=f"fold_ids = {bad}")))


def test_the_experiment_reference_leads_the_report_and_one_fold_runs_get_mcnemar(
    tmp_path: Path,
) -> None:
    few = _run("few", more="fold_ids = [0]\nmax_test = 20")
    exp = _exp(tmp_path, _run("all") + few)
    text = exp.read_text(encoding="utf-8")
    exp.write_text(text.replace('name = "t"\n', 'name = "t"\nreference = "few"\n', 1), "utf-8")
    assert load_experiment(exp).reference == "few"
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), "--only", "all", "--no-progress"]) == 0
    assert "| all | " in (out / "report.md").read_text()  # reference not run yet: default
    assert main(["run", str(exp), "--out", str(out), "--no-progress"]) == 0
    assert main(["report", str(out), "--json", "-q", "--reference", "few"]) == 0
    (c,) = json.loads((out / "summary.json").read_text())["comparisons"]
    assert (c["a"], c["b"], c["n_folds"], c["n_pairs"]) == ("all", "few", 1, 20)
    assert c["p_corrected_t"] is None and 0.0 <= c["p_mcnemar_holm"] <= 1.0
    row = next(x for x in (out / "report.md").read_text().splitlines() if x.startswith("| all |"))
    p_mcnemar = f"{c['p_mcnemar_holm']:.4f}" if c["p_mcnemar_holm"] >= 1e-4 else "<0.0001"
    assert row.rstrip(" |").split(" | ")[-2:] == ["—", p_mcnemar]
    exp.write_text(text.replace('name = "t"\n', 'name = "t"\nreference = "zz"\n', 1), "utf-8")
    with pytest.raises(ConfigError, match=r"\[experiment\]: `reference` must name one of the runs"):
        load_experiment(exp)


def test_transfer_scores_every_target_pair_once(tmp_path: Path) -> None:
    _write_data(tmp_path, 70, seed=3, name="target.jsonl")
    extra = '[[transfer]]\nrun = "a"\ntargets = [{dataset = "target.jsonl", name = "tgt"}]\n'
    exp = _exp(tmp_path, _run("a"), extra=extra)
    out = tmp_path / "out"
    run_experiment(exp, out, progress=False)
    with ResultStore(out) as store:
        run = store.get_run("a@tgt")
        assert run is not None and run.dataset == "tgt"
        assert store.finished_folds(run.run_id) == {0, 1, 2}
        preds = store.predictions(run.run_id)
        n_target = store.dataset_report("tgt")["n_pairs"]  # type: ignore[index]
        assert sorted(preds["idx"].tolist()) == list(range(n_target))
        tr = store.transfers()[run.run_id]
        assert (
            tr["target_dataset"] == "tgt" and tr["source_split_key"] == store.get_run("a").split_key
        )  # type: ignore[union-attr]
    before = _finished_at(out)
    run_experiment(exp, out, progress=False)  # nothing left: nothing redone
    assert _finished_at(out) == before


class Failing(LexicalClassifier):
    """Fails inside fit, as a broken model would."""

    family: ClassVar[str] = "failing-lexical"

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        raise RuntimeError("boom")


def test_a_failing_run_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        registry._FAMILIES, "failing-lexical", "tests.experiments.test_runner:Failing"
    )
    exp = _exp(tmp_path, _run("bad", "failing-lexical") + _run("good"))
    with pytest.raises(RunFailed, match="bad: RuntimeError: boom"):
        run_experiment(exp, tmp_path / "out", progress=False)
    assert len(_metrics(tmp_path / "out")["good"]) == 3


@pytest.mark.slow
def test_killed_pairlm_run_resumes_without_redoing_finished_folds(tmp_path: Path) -> None:
    """SIGKILL `pairlm run --workers 2` once some folds are stored; the workers stop too;
    running it again computes only the missing folds and ends with a clean run's numbers."""
    runs = _run("s1", "slow-lexical") + _run("s2", "slow-lexical")
    exp = _exp(tmp_path, runs)
    script = (
        "import sys; from pairlm.models.registry import register;"
        "register('slow-lexical', 'tests.slow_model:SlowLexical');"
        "from pairlm.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PAIRLM_TEST_SLEEP": "1.5"}
    killed = tmp_path / "killed"
    args = ["run", str(exp), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args, "--out", str(killed)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if (killed / "results.sqlite").exists() and _finished_at(killed):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3.0)  # the orphaned workers notice and exit
    done_at_kill = _finished_at(killed)
    time.sleep(3.0)
    assert _finished_at(killed) == done_at_kill, "workers kept writing after the runner died"
    assert 1 <= len(done_at_kill) < 6, "the kill should land mid-run"
    env["PAIRLM_TEST_SLEEP"] = "0"
    for out in (killed, tmp_path / "clean"):
        res = subprocess.run(
            [sys.executable, "-c", script, *args, "--out", str(out)],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
    resumed = _finished_at(killed)
    assert len(resumed) == 6
    for cell, t in done_at_kill.items():
        assert resumed[cell] == t, f"{cell} was recomputed"
    assert _metrics(killed) == _metrics(tmp_path / "clean")
    with ResultStore(killed) as a, ResultStore(tmp_path / "clean") as b:
        for name in ("s1", "s2"):
            ra, rb = a.get_run(name), b.get_run(name)
            assert ra is not None and rb is not None
            np.testing.assert_array_equal(
                a.predictions(ra.run_id)["proba"], b.predictions(rb.run_id)["proba"]
            )
    assert (killed / "report.html").is_file() and (killed / "report.md").is_file()


def test_data_table_maps_columns_and_keeps_self_pairs(tmp_path: Path) -> None:
    import json

    toy = make_toy_pairs(60, seed=4)
    rows = [
        {"q": a, "cand": b, "dup": int(y)} for a, b, y in zip(toy.text_a, toy.text_b, toy.label)
    ]
    rows.append({"q": "same text here", "cand": "same text here", "dup": 1})  # a self-pair
    (tmp_path / "custom.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    f = tmp_path / "exp.toml"
    base = '[experiment]\nname = "c"\n[data]\ndataset = "custom.jsonl"\n'
    cols = 'columns = { text_a = "q", text_b = "cand", label = "dup" }\n'
    proto = "[protocol]\nfolds = 3\n"
    f.write_text(base + cols + "keep_self_pairs = true\n" + proto + _run("lexical"))
    exp = load_experiment(f)
    assert exp.read_options == {
        "columns": {"text_a": "q", "text_b": "cand", "label": "dup"},
        "drop_self_pairs": False,
    }
    run_experiment(f, tmp_path / "out", progress=False)
    f.write_text(base + cols + proto + _run("lexical"))
    run_experiment(f, tmp_path / "out2", progress=False)
    tested = []
    for out in ("out", "out2"):
        with ResultStore(tmp_path / out) as store:
            folds = store.fold_results(store.runs()[0].run_id)
            tested.append(sum(fr.n_test for fr in folds))
    assert tested[0] == tested[1] + 1  # the self-pair was kept only when asked
    f.write_text(base + 'columns = { question = "q" }\n' + proto + _run("lexical"))
    with pytest.raises(ConfigError, match="columns"):
        load_experiment(f)
