from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tinyparts


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tinyparts.make_encoder(tmp_path_factory.mktemp("enc")))


@pytest.fixture(scope="session")
def tiny_encoder_b(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tinyparts.make_encoder(tmp_path_factory.mktemp("encb"), hidden=16, seed=1))


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tinyparts.make_reranker(tmp_path_factory.mktemp("rr")))


def shared_data_dir() -> Path | None:
    env = os.environ.get("PAIRLM_DATA_DIR")
    d = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return d if d.is_dir() else None
