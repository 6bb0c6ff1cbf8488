"""`--backend` / `[experiment] backend`: validated in one line, and without Ray installed the
error says what to install (these tests need no Ray)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pairlm.cli import main
from pairlm.experiments.runner import parse_experiment
from pairlm.models.base import ConfigError
from tests.conftest import make_toy_pairs

_RUNS = [{"model": "lexical"}]


def test_backend_key_is_validated() -> None:
    exp = parse_experiment(
        {
            "experiment": {"backend": "ray", "address": "auto"},
            "data": {"dataset": "x"},
            "runs": _RUNS,
        }
    )
    assert (exp.backend, exp.address) == ("ray", "auto")
    assert parse_experiment({"data": {"dataset": "x"}, "runs": _RUNS}).backend == "local"
    with pytest.raises(ConfigError, match=r"`backend` must be one of local, ray, got 'spark'"):
        parse_experiment(
            {"experiment": {"backend": "spark"}, "data": {"dataset": "x"}, "runs": _RUNS}
        )
    with pytest.raises(ConfigError, match="`address` must be a non-empty string"):
        parse_experiment({"experiment": {"address": 6379}, "data": {"dataset": "x"}, "runs": _RUNS})


def test_without_ray_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    data = tmp_path / "pairs.jsonl"
    make_toy_pairs(40).to_frame().to_json(data, orient="records", lines=True)
    exp = tmp_path / "e.toml"
    exp.write_text(
        '[data]\ndataset = "pairs.jsonl"\n[protocol]\nfolds = 2\n[[runs]]\nmodel = "lexical"\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), "--backend", "ray", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: --backend ray needs Ray, which is not installed: pip install 'pairlm[ray]'"
    ]
    assert not out.exists()  # refused before any data is read or any store is made
    rc = main(["predict", str(tmp_path), "--data", str(data), "--backend", "ray"])
    assert rc == 2
    assert "pip install 'pairlm[ray]'" in capsys.readouterr().err


def test_import_pairlm_does_not_import_ray() -> None:
    import subprocess

    code = (
        "import sys, pairlm, pairlm.cli, pairlm.experiments.runner, pairlm.evaluation.cv;"
        "import pairlm.experiments.ray_backend, pairlm.evaluation.ray_predict;"
        "print('ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_an_address_without_the_ray_backend_is_refused(tmp_path: Path) -> None:
    from pairlm.experiments.runner import run_experiment

    exp = tmp_path / "e.toml"
    exp.write_text('[data]\ndataset = "x.jsonl"\n[[runs]]\nmodel = "lexical"\n')
    with pytest.raises(ConfigError, match="an address is for --backend ray"):
        run_experiment(exp, tmp_path / "out", address="auto")
    assert not (tmp_path / "out").exists()
