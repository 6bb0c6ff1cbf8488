"""Data-parallel LoRA training: 2 CPU processes under torchrun (gloo) end with identical
adapters, and the saved model predicts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pairlm.models.registry import load_model
from tests.conftest import REPO_ROOT, make_toy_pairs
from tests.models.tiny_llm_zeroshot import make_tiny_llama


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_tsv(path: Path, n: int, seed: int) -> Path:
    ds = make_toy_pairs(n, seed=seed)
    lines = ["text_a\ttext_b\tlabel"] + [
        f"{a}\t{b}\t{y}" for a, b, y in zip(ds.text_a, ds.text_b, ds.label)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_adapters(tmp_path: Path) -> None:
    folder = make_tiny_llama(tmp_path / "tiny-llama")
    train = _write_tsv(tmp_path / "train.tsv", 48, seed=1)
    valid = _write_tsv(tmp_path / "valid.tsv", 20, seed=2)
    sets = {
        "backbone": str(folder),
        "dtype": "float32",
        "device": "cpu",
        "r": 4,
        "lr": 0.005,
        "batch_size": 4,
        "epochs": 1,
        "max_length": 64,
        "lora_dropout": 0.1,
    }
    cmd = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", "1", "--nproc_per_node", "2", "--node_rank", "0",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", "pairlm.models.llm.distributed",
        "--data", str(train), "--valid", str(valid), "--out", str(tmp_path / "model"),
        "--backend", "gloo", "--dump-adapter", str(tmp_path / "ranks"),
    ]  # fmt: skip
    for k, v in sets.items():
        cmd += ["--set", f"{k}={json.dumps(v) if isinstance(v, str) else v}"]
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0 and "gloo" in out.stderr and "not available" in out.stderr:
        pytest.skip("torch.distributed gloo backend not available")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    # Each rank takes every other batch of 4 (an odd last batch is dropped): one step each.
    assert summary["world_size"] == 2
    assert summary["steps"] == -(-summary["train_pairs"] // 4) // 2 > 0

    r0 = load_file(str(tmp_path / "ranks" / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "ranks" / "rank1.safetensors"))
    assert r0.keys() == r1.keys() and any("lora_B" in k for k in r0)
    for k in r0:
        torch.testing.assert_close(r0[k], r1[k], rtol=0, atol=0)
    assert any(float(v.abs().sum()) > 0 for k, v in r0.items() if "lora_B" in k)  # it trained

    model = load_model(tmp_path / "model")
    p = model.predict_proba(make_toy_pairs(10, seed=3))
    assert p.shape == (10,) and np.isfinite(p).all()
