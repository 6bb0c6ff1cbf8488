"""Kill the server (SIGKILL) during a stream of document additions, restart it: every
acknowledged document is there and the index is consistent."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from conftest import API_KEY, build_index, start_server
from pairlm.search.index import CorpusIndex


def test_sigkill_during_additions_loses_nothing_acknowledged(tmp_path, tiny_encoder):
    idx_dir = build_index(tmp_path / "index", tiny_encoder, persist_every=7)
    log = tmp_path / "server.log"
    srv = start_server(idx_dir, log)
    acked: dict[str, str] = {}
    sent: dict[str, str] = {}
    stop = threading.Event()
    words = ["python", "rice", "japan", "doctor", "laptop", "money", "weight", "ocean"]

    def stream() -> None:
        with httpx.Client(base_url=srv.url, headers={"X-API-Key": API_KEY}, timeout=10) as c:
            i = 0
            while not stop.is_set():
                did = f"k{i}"
                text = f"how do i {words[i % 8]} {words[(i // 8) % 8]} {words[(i // 64) % 8]} {i}"
                sent[did] = text
                try:
                    r = c.post("/v1/documents", json={"documents": [{"id": did, "text": text}]})
                except httpx.TransportError:
                    return  # the server died mid-request: not acknowledged
                if r.status_code == 200:
                    acked[did] = text
                i += 1

    t = threading.Thread(target=stream)
    t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    t.join(20)
    assert len(acked) >= 40, log.read_text()[-2000:]

    srv2 = start_server(idx_dir, log)
    try:
        h = httpx.get(srv2.url + "/health").json()
        # every acknowledged document, plus at most the one in flight at the kill
        assert len(acked) + 10 <= h["documents"] <= len(acked) + 11
        for did, text in acked.items():
            r = httpx.post(
                srv2.url + "/v1/search", json={"text": text, "top_k": 1, "rerank": False}
            )
            assert r.json()["results"][0]["hits"][0]["id"] == did
    finally:
        srv2.stop()
    idx = CorpusIndex.open(idx_dir)
    try:
        check = idx.check()
        assert check["consistent"] and check["faiss_live"] == check["sqlite"] == h["documents"]
        assert set(acked) <= set(idx.get(list(sent)))
    finally:
        idx.close()
