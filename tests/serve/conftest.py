"""A real server on 127.0.0.1 (uvicorn in a subprocess), over an index built with the tiny
test encoder; tests talk HTTP to it with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

TINY_DIR = Path(__file__).resolve().parents[1] / "search"
sys.path.insert(0, str(TINY_DIR))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tinyparts  # noqa: E402

API_KEY = "test-key-123"
HOST = "127.0.0.1"
LAUNCH = (
    "import sys; sys.path.insert(0, sys.argv[1]); import tinyparts; "
    "from pairlm.serve.app import main; raise SystemExit(main(sys.argv[2:]))"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_server(
    index_dir: Path | None,
    log: Path,
    *,
    reranker: str | None = None,
    config: Path | None = None,
    api_key: str | None = API_KEY,
    wait_ready: bool = True,
) -> Server:
    port = free_port()
    args = [
        sys.executable,
        "-c",
        LAUNCH,
        str(TINY_DIR),
        *(["--index", str(index_dir)] if index_dir is not None else []),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if reranker:
        args += ["--reranker", reranker]
    if config:
        args += ["--config", str(config)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PAIRLM_API_KEY", None)
    if api_key:
        env["PAIRLM_API_KEY"] = api_key
    fh = log.open("ab")
    proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
    srv = Server(proc, f"http://{HOST}:{port}", log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            r = httpx.get(srv.url + "/health", timeout=2)
            if not wait_ready or r.status_code == 200 or r.json().get("status") == "error":
                return srv
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    srv.stop()
    raise RuntimeError(f"server did not become ready: {log.read_text()[-3000:]}")


def build_index(path: Path, encoder: str, **cfg: int) -> Path:
    from pairlm.search.index import CorpusIndex, IndexConfig

    CorpusIndex.build(
        path,
        list(tinyparts.DOCS),
        list(tinyparts.DOCS.values()),
        encoder=encoder,
        config=IndexConfig(**cfg),
    ).close()
    return path


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tinyparts.make_encoder(tmp_path_factory.mktemp("enc")))


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tinyparts.make_reranker(tmp_path_factory.mktemp("rr")))


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_encoder: str, tiny_reranker: str
) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("srv")
    idx = build_index(d / "index", tiny_encoder)
    cfg = d / "serve.toml"
    cfg.write_text(
        "[serve]\nmax_texts = 8\nmax_chars = 500\nmax_top_k = 20\nmax_body_bytes = 20000\n"
    )
    srv = start_server(idx, d / "server.log", reranker=tiny_reranker, config=cfg)
    yield srv
    srv.stop()
