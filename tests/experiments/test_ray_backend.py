"""The Ray backend gives the local backend's numbers: the experiment grid (a killed worker's
fold retried) and batch scoring. One local Ray (2 CPUs, loopback only) for the module; skipped
where Ray is not installed, deselect with `-m "not ray"`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pairlm.cli import main
from pairlm.evaluation.store import ResultStore
from pairlm.experiments.runner import run_experiment
from pairlm.models import registry
from tests.conftest import REPO_ROOT, make_toy_pairs, shared_data_dir

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

TINY = {"max_word_features": 500, "max_char_features": 500, "n_bins": 4}
_CFG = "\n".join(f"{k} = {v}" for k, v in TINY.items())


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def _store(out: Path, run: str) -> tuple[list[dict[str, float]], dict[str, np.ndarray], int]:
    with ResultStore(out, create=False) as store:
        info = store.get_run(run)
        assert info is not None
        folds = store.fold_results(info.run_id)
        return [f.metrics for f in folds], store.predictions(info.run_id), len(folds)


def _same(a: Path, run_a: str, b: Path, run_b: str, folds: int) -> None:
    ma, pa, na = _store(a, run_a)
    mb, pb, nb = _store(b, run_b)
    assert na == nb == folds
    assert ma == mb  # per-fold metrics, exactly
    for k in ("idx", "fold", "pair_id", "label", "proba", "threshold"):
        assert np.array_equal(pa[k], pb[k]), k  # out-of-fold predictions, exactly


def _toy_experiment(tmp_path: Path, name: str, model: str, extra_cfg: str = "") -> Path:
    data = tmp_path / "pairs.jsonl"
    if not data.exists():
        make_toy_pairs(120, seed=3).to_frame().to_json(data, orient="records", lines=True)
    f = tmp_path / f"{name}.toml"
    f.write_text(
        f'[experiment]\nname = "{name}"\n[data]\ndataset = "pairs.jsonl"\n'
        f"[protocol]\nfolds = 3\n"
        f'[[runs]]\nname = "lex"\nmodel = "{model}"\n[runs.config]\n{_CFG}\n{extra_cfg}\n',
        encoding="utf-8",
    )
    return f


def _finished_at(out: Path, run: str) -> dict[int, float]:
    with ResultStore(out, create=False) as store:
        info = store.get_run(run)
        assert info is not None
        return store.fold_finished_at(info.run_id)


def test_killed_worker_fold_is_retried_and_a_rerun_resumes_to_the_same_numbers(
    tmp_path: Path,
) -> None:
    registry.register("crash-once-lexical", "tests.experiments.ray_crash_model:CrashOnceLexical")
    crash = tmp_path / "crash"
    crash.mkdir()
    local = _toy_experiment(tmp_path, "local", "lexical")
    run_experiment(local, tmp_path / "local", progress=False)
    on_ray = _toy_experiment(tmp_path, "ray", "crash-once-lexical", f'crash_dir = "{crash}"')
    # fold 0 alone: its worker dies on the first attempt and Ray runs the fold again
    run_experiment(on_ray, tmp_path / "ray", folds=[0], progress=False, backend="ray")
    assert (crash / "crashed").exists(), "no worker was killed"
    assert len((crash / "fits").read_text().split()) == 2
    first = _finished_at(tmp_path / "ray", "lex")
    assert set(first) == {0}
    # the whole run: resumes at the unfinished folds, fold 0 is not redone
    run_experiment(on_ray, tmp_path / "ray", progress=False, backend="ray")
    assert len((crash / "fits").read_text().split()) == 4  # 3 folds + the one that died
    assert _finished_at(tmp_path / "ray", "lex")[0] == first[0]
    _same(tmp_path / "local", "lex", tmp_path / "ray", "lex", 3)


@pytest.mark.integration
def test_quickstart_lexical_on_ray_equals_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = shared_data_dir()
    if data_dir is None:
        pytest.skip("../shared/data not present (set PAIRLM_DATA_DIR to run this test)")
    monkeypatch.setenv("PAIRLM_DATA_DIR", str(data_dir))  # where the dataset registry looks
    exp = REPO_ROOT / "experiments" / "quickstart.toml"
    # two of the quickstart's five folds keep the test short; every fold runs the same code
    kw = {"only": ["lexical"], "folds": [0, 1], "progress": False}
    # On Ray each of the two cells runs at 1 thread (2 CPUs / 2 cells at once). BLAS sums in
    # another order with another thread count (last digits of AP and log-loss move), so the
    # local run gets the same single thread: the comparison is of backends, not of BLAS.
    from threadpoolctl import threadpool_limits

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # thread pools of libraries loaded from here on
    with threadpool_limits(limits=1):  # and of those already loaded
        run_experiment(exp, tmp_path / "local", **kw)  # type: ignore[arg-type]
    run_experiment(exp, tmp_path / "ray", backend="ray", **kw)  # type: ignore[arg-type]
    _same(tmp_path / "local", "lexical", tmp_path / "ray", "lexical", 2)


def test_predict_on_ray_equals_predict_row_for_row(tmp_path: Path) -> None:
    from pairlm.models.lexical import LexicalClassifier

    model = tmp_path / "model"
    LexicalClassifier(**TINY).fit(make_toy_pairs(200, seed=1)).save(model)
    ds = make_toy_pairs(3000, seed=2)
    lines = ["question1\tquestion2\tis_duplicate"]
    lines += [f"{a}\t{b}\t{y}" for a, b, y in zip(ds.text_a, ds.text_b, ds.label)]
    lines[100] = "\tan empty first text\t0"  # unscored: empty_text
    lines[2000] = "a line without its second text"  # unscored: malformed
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local, on_ray = tmp_path / "local.tsv", tmp_path / "ray.tsv"
    assert main(["predict", str(model), "--data", str(data), "--out", str(local)]) == 3
    args = ["predict", str(model), "--data", str(data), "--out", str(on_ray)]
    assert main([*args, "--backend", "ray", "--batch-size", "256"]) == 3
    a, b = local.read_text().splitlines(), on_ray.read_text().splitlines()
    assert len(a) == len(b) == 3001  # the header and every input row
    assert a == b
    assert sum(r.endswith("\tunscored\tempty_text") for r in b) == 1
    # No id column: every row, scored or not, has its line-based id.
    assert [r.split("\t")[1] for r in b[1:]] == [str(i) for i in range(2, 3002)]


def test_mining_rerank_on_ray_equals_local(tmp_path: Path) -> None:
    from pairlm.models.lexical import LexicalClassifier
    from pairlm.search.mining import mine_pairs
    from pairlm.search.ray_rerank import RayReranker
    from pairlm.search.rerank import Reranker

    model = tmp_path / "model"
    LexicalClassifier(**TINY).fit(make_toy_pairs(200, seed=1)).save(model)
    toy = make_toy_pairs(80, seed=4)
    texts = sorted(set(toy.text_a) | set(toy.text_b))
    ids = [f"t{i}" for i in range(len(texts))]
    rng = np.random.default_rng(0)
    emb = (1.0 + 0.05 * rng.standard_normal((len(texts), 16))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)  # every pair close: many candidates
    kw = {"k": 8, "floor": 0.5, "threshold": 0.0}
    local = mine_pairs(ids, texts, emb, reranker=Reranker(model), **kw)  # type: ignore[arg-type]
    on_ray = mine_pairs(ids, texts, emb, reranker=RayReranker(model), **kw)  # type: ignore[arg-type]
    assert len(local) > 100
    assert [(q.id_a, q.id_b, q.probability) for q in local] == [
        (q.id_a, q.id_b, q.probability) for q in on_ray
    ]


def test_transfer_on_ray_equals_local(tmp_path: Path) -> None:
    for name, seed in (("t1.jsonl", 5), ("t2.jsonl", 6)):
        make_toy_pairs(60, seed=seed).to_frame().to_json(
            tmp_path / name, orient="records", lines=True
        )
    extra = '[[transfer]]\nrun = "lex"\ntargets = ["t1.jsonl", "t2.jsonl"]\n'
    exp = _toy_experiment(tmp_path, "transfer", "lexical", "\n" + extra)
    run_experiment(exp, tmp_path / "local", progress=False)
    run_experiment(exp, tmp_path / "ray", progress=False, backend="ray")
    for run in ("lex", "lex@t1.jsonl", "lex@t2.jsonl"):
        _same(tmp_path / "local", run, tmp_path / "ray", run, 3)
