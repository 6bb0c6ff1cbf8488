from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pairlm.evaluation.cv import Protocol, cross_validate, dataset_fingerprint
from pairlm.evaluation.store import ResultStore, StoreError
from tests.conftest import REPO_ROOT, make_toy_pairs

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}


def _metrics(store: ResultStore, name: str) -> list[dict[str, float]]:
    run = store.get_run(name)
    assert run is not None
    return [f.metrics for f in store.fold_results(run.run_id)]


def test_cv_stores_every_fold_and_every_prediction(tmp_path: Path) -> None:
    ds = make_toy_pairs(90)
    with ResultStore(tmp_path) as store:
        run = cross_validate(
            ds, "lexical", TINY, store=store, protocol=Protocol(folds=3), progress=False
        )
        folds = store.fold_results(run.run_id)
        assert [f.fold for f in folds] == [0, 1, 2]
        preds = store.predictions(run.run_id)
        # every pair scored exactly once, out of fold
        assert sorted(preds["idx"].tolist()) == list(range(len(ds)))
        assert (preds["label"] == ds.y[preds["idx"]]).all()
        for f in folds:
            assert 0.0 <= f.metrics["f1"] <= 1.0
            assert f.n_train + f.n_valid + f.n_test == len(ds)


def test_resume_gives_the_numbers_of_an_uninterrupted_run(tmp_path: Path) -> None:
    ds = make_toy_pairs(90)
    with ResultStore(tmp_path / "a") as store:
        cross_validate(ds, "lexical", TINY, store=store, protocol=Protocol(folds=3), progress=False)
        full = _metrics(store, "lexical")
    with ResultStore(tmp_path / "b") as store:
        cross_validate(
            ds,
            "lexical",
            TINY,
            store=store,
            protocol=Protocol(folds=3),
            only_folds=[0],
            progress=False,
        )
        assert len(_metrics(store, "lexical")) == 1
    with ResultStore(tmp_path / "b") as store:  # a new process would reopen the store
        cross_validate(ds, "lexical", TINY, store=store, protocol=Protocol(folds=3), progress=False)
        resumed = _metrics(store, "lexical")
    assert resumed == full


def test_a_config_spelling_out_a_default_is_the_same_run(tmp_path: Path) -> None:
    ds = make_toy_pairs(60)
    with ResultStore(tmp_path) as store:
        cross_validate(
            ds,
            "lexical",
            TINY,
            store=store,
            protocol=Protocol(folds=2),
            only_folds=[0],
            progress=False,
        )
        run = cross_validate(
            ds,
            "lexical",
            {**TINY, "C": 1.0, "max_iter": 2000},
            store=store,
            protocol=Protocol(folds=2),
            progress=False,
        )  # C and max_iter at their defaults: the run resumes instead of being refused
        assert store.finished_folds(run.run_id) == {0, 1}
        assert store.get_run("lexical").config == TINY  # stored as first written


def test_a_run_resumed_with_other_runtime_keys_is_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys a family declares as runtime (threads, devices, checkpoint folders) do not make
    another run: a run can gain a checkpoint_dir between folds."""
    from pairlm.models.lexical import LexicalConfig

    monkeypatch.setattr(LexicalConfig, "runtime_keys", ("max_iter",))
    ds = make_toy_pairs(60)
    with ResultStore(tmp_path) as store:
        kw = dict(store=store, protocol=Protocol(folds=2), progress=False)
        cross_validate(ds, "lexical", TINY, only_folds=[0], **kw)
        run = cross_validate(ds, "lexical", {**TINY, "max_iter": 500}, **kw)
        assert store.finished_folds(run.run_id) == {0, 1}
        with pytest.raises(StoreError, match="different config"):  # C is not a runtime key
            cross_validate(ds, "lexical", {**TINY, "C": 2.0}, **kw)


def test_same_run_name_with_other_config_is_refused(tmp_path: Path) -> None:
    ds = make_toy_pairs(60)
    with ResultStore(tmp_path) as store:
        cross_validate(ds, "lexical", TINY, store=store, protocol=Protocol(folds=2), progress=False)
        with pytest.raises(StoreError, match="different config"):
            cross_validate(
                ds,
                "lexical",
                {**TINY, "C": 2.0},
                store=store,
                protocol=Protocol(folds=2),
                progress=False,
            )


def test_a_run_created_by_another_process_meanwhile_is_joined(tmp_path: Path) -> None:
    # two processes running different folds of one new run: both find no run, one inserts it
    # first; the other must join that run (or refuse a different config), not crash
    args = ("r", "lexical", {"C": 1.0}, "toy", "split", {"folds": 2})
    with ResultStore(tmp_path) as first, ResultStore(tmp_path) as second:
        created = first.get_or_create_run(*args)
        real_get_run = second.get_run
        calls = []

        def get_run_missing_once(name: str):
            calls.append(name)
            return None if len(calls) == 1 else real_get_run(name)

        second.get_run = get_run_missing_once  # type: ignore[method-assign]
        assert second.get_or_create_run(*args).run_id == created.run_id
        calls.clear()
        with pytest.raises(StoreError, match="different config"):
            second.get_or_create_run("r", "lexical", {"C": 2.0}, "toy", "split", {"folds": 2})


def test_other_data_under_the_same_name_is_refused(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        cross_validate(
            make_toy_pairs(60),
            "lexical",
            TINY,
            store=store,
            protocol=Protocol(folds=2),
            dataset_name="d",
            progress=False,
        )
        with pytest.raises(StoreError, match="other contents"):
            cross_validate(
                make_toy_pairs(60, seed=9),
                "lexical",
                TINY,
                store=store,
                protocol=Protocol(folds=2),
                dataset_name="d",
                progress=False,
            )


def test_a_fold_resumed_from_a_checkpoint_reports_its_whole_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit that resumed finished training reports the earlier processes' seconds too."""
    from pairlm.models import registry

    monkeypatch.setitem(registry._FAMILIES, "resumed-lexical", "tests.slow_model:ResumedLexical")
    ds = make_toy_pairs(90)
    with ResultStore(tmp_path) as store:
        run = cross_validate(
            ds, "resumed-lexical", TINY, store=store, protocol=Protocol(folds=3), progress=False
        )
        folds = store.fold_results(run.run_id)
    assert len(folds) == 3 and all(1000.0 < f.fit_seconds < 1100.0 for f in folds)


def test_runs_share_folds_and_subsamples_are_deterministic(tmp_path: Path) -> None:
    ds = make_toy_pairs(120)
    proto = Protocol(folds=3, subsample=90, max_train=40, max_test=20)
    with ResultStore(tmp_path) as store:
        r1 = cross_validate(
            ds, "lexical", TINY, store=store, protocol=proto, run_name="a", progress=False
        )
        r2 = cross_validate(
            ds,
            "lexical",
            {**TINY, "C": 3.0},
            store=store,
            protocol=proto,
            run_name="b",
            progress=False,
        )
        assert r1.split_key == r2.split_key
        p1, p2 = store.predictions(r1.run_id), store.predictions(r2.run_id)
        assert (p1["idx"] == p2["idx"]).all() and len(p1["idx"]) == 3 * 20
        assert all(f.n_train == 40 and f.n_test == 20 for f in store.fold_results(r1.run_id))


def test_protocol_validation() -> None:
    with pytest.raises(ValueError, match="folds"):
        Protocol(folds=1)
    with pytest.raises(ValueError, match="strategy"):
        Protocol(strategy="random")  # type: ignore[arg-type]
    assert "stratified" in Protocol().describe()


def test_fingerprint_changes_with_content() -> None:
    assert dataset_fingerprint(make_toy_pairs(30)) == dataset_fingerprint(make_toy_pairs(30))
    assert dataset_fingerprint(make_toy_pairs(30)) != dataset_fingerprint(
        make_toy_pairs(30, seed=3)
    )


@pytest.mark.slow
def test_killed_cli_run_resumes_to_the_same_numbers(tmp_path: Path) -> None:
    """Kill `pairlm cv` (SIGKILL) after its first fold is committed, run it again: same numbers."""
    ds = make_toy_pairs(90)
    data = tmp_path / "pairs.jsonl"
    ds.to_frame().to_json(data, orient="records", lines=True)
    script = (
        "import sys; from pairlm.models.registry import register;"
        "register('slow-lexical', 'tests.slow_model:SlowLexical');"
        "from pairlm.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = [
        "cv",
        "--data",
        str(data),
        "--model",
        "slow-lexical",
        "--folds",
        "3",
        "--no-progress",
        "--set",
        "max_word_features=500",
        "--set",
        "max_char_features=500",
        "--set",
        "n_bins=4",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PAIRLM_TEST_SLEEP": "1.5"}
    out_killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args, "--out", str(out_killed)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if proc.poll() is not None:
            pytest.fail(
                f"pairlm cv exited early ({proc.returncode}): {proc.stderr.read().decode()}"
            )  # type: ignore[union-attr]
        if (out_killed / "results.sqlite").exists():
            with ResultStore(out_killed) as store:
                run = store.get_run("slow-lexical")
                if run is not None and store.finished_folds(run.run_id):
                    break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with ResultStore(out_killed) as store:
        run = store.get_run("slow-lexical")
        assert run is not None
        assert 1 <= len(store.finished_folds(run.run_id)) < 3, "kill should land mid-run"
    env["PAIRLM_TEST_SLEEP"] = "0"
    for out in (out_killed, tmp_path / "clean"):
        done = subprocess.run(
            [sys.executable, "-c", script, *args, "--out", str(out)],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    with ResultStore(out_killed) as a, ResultStore(tmp_path / "clean") as b:
        assert _metrics(a, "slow-lexical") == _metrics(b, "slow-lexical")
        ra, rb = a.get_run("slow-lexical"), b.get_run("slow-lexical")
        assert ra is not None and rb is not None
        np.testing.assert_array_equal(
            a.predictions(ra.run_id)["proba"], b.predictions(rb.run_id)["proba"]
        )
