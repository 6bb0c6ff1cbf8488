from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import API_KEY, HOST, LAUNCH, TINY_DIR, free_port, start_server
from pairlm.errors import ConfigError
from pairlm.serve.config import ServeConfig, load_config

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_health_and_search(server):
    h = httpx.get(server.url + "/health").json()
    assert h["status"] == "ok" and h["documents"] == 10 and h["reranker"] == "test-overlap"
    r = httpx.post(
        server.url + "/v1/search",
        json={"text": "how do i learn python", "top_k": 3, "rerank": False},
    )
    assert r.status_code == 200
    hits = r.json()["results"][0]["hits"]
    assert hits[0]["id"] == "d1" and len(hits) == 3 and hits[0]["probability"] is None
    r = httpx.post(server.url + "/v1/search", json={"texts": ["how do i learn python"], "top_k": 5})
    body = r.json()
    assert body["reranked"] and body["results"][0]["hits"][0]["probability"] == pytest.approx(1.0)
    assert all(h["probability"] >= 0.6 for h in body["results"][0]["hits"])


def test_score(server):
    r = httpx.post(
        server.url + "/v1/score",
        json={
            "pairs": [
                {"text_a": "how do i learn python", "text_b": "how do i learn python"},
                {"text_a": "how do i learn python", "text_b": "why is the sky blue"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["probabilities"][0] == pytest.approx(1.0) and body["probabilities"][1] < 0.3
    assert body["duplicates"] == [True, False] and 0 < body["threshold"] < 1
    assert [(x["position"], x["id"]) for x in body["results"]] == [(0, None), (1, None)]
    assert [x["probability"] for x in body["results"]] == body["probabilities"]


def test_score_answers_carry_position_and_id(server):
    pairs = [
        {"id": "q-9", "text_a": "how do i learn python", "text_b": "why is the sky blue"},
        {"text_a": "a b", "text_b": "a b c"},
        {"id": "7", "text_a": "how do i learn python", "text_b": "how do i learn python"},
    ]
    r = httpx.post(server.url + "/v1/score", json={"pairs": pairs})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [(x["position"], x["id"]) for x in res] == [(0, "q-9"), (1, None), (2, "7")]
    assert res[2]["duplicate"] is True and res[0]["duplicate"] is False


def test_match_with_candidates_and_against_index(server):
    long_doc = (
        ("I cook rice every day. " * 3) + "Sometimes I travel to Japan. " + "The sky is blue. " * 3
    )
    r = httpx.post(
        server.url + "/v1/match",
        json={
            "queries": [{"id": "q1", "text": "how can i cook rice"}],
            "candidates": [
                {"id": "c1", "text": long_doc},
                {"id": "c2", "text": "how to make money fast"},
            ],
            "top_k": 2,
            "pool": "mean",
        },
    )
    assert r.status_code == 200, r.text
    ms = r.json()["results"][0]["matches"]
    assert [m["rank"] for m in ms] == [1, 2] and {m["candidate_id"] for m in ms} == {"c1", "c2"}
    r = httpx.post(
        server.url + "/v1/match",
        json={"queries": [{"id": "q", "text": "how do i learn python"}], "top_k": 2},
    )
    assert r.json()["results"][0]["matches"][0]["candidate_id"] == "d1"
    r = httpx.post(  # against the index: exactly k distinct documents, the same matcher
        server.url + "/v1/match",
        json={"queries": [{"id": "q", "text": long_doc}], "top_k": 10, "pool": "mean"},
    )
    ms = r.json()["results"][0]["matches"]
    assert len({m["candidate_id"] for m in ms}) == len(ms) == 10
    two = [{"id": "q", "text": "a b"}, {"id": "q", "text": "c d"}]
    r = httpx.post(server.url + "/v1/match", json={"queries": two, "candidates": two})
    assert r.status_code == 422 and "'q' appears twice" in r.json()["detail"]


def test_documents_require_key_and_change_the_index(server):
    doc = {"documents": [{"id": "new1", "text": "where can i buy a cheap phone"}]}
    assert httpx.post(server.url + "/v1/documents", json=doc).status_code == 401
    assert (
        httpx.post(
            server.url + "/v1/documents", json=doc, headers={"X-API-Key": "wrong"}
        ).status_code
        == 401
    )
    r = httpx.post(server.url + "/v1/documents", json=doc, headers={"X-API-Key": API_KEY})
    assert r.status_code == 200 and r.json() == {"added": 1, "documents": 11}
    hit = httpx.post(
        server.url + "/v1/search", json={"text": "where can i buy a cheap phone", "rerank": False}
    ).json()
    assert hit["results"][0]["hits"][0]["id"] == "new1"
    assert httpx.delete(server.url + "/v1/documents/new1").status_code == 401
    r = httpx.delete(server.url + "/v1/documents/new1", headers=AUTH)
    assert r.status_code == 200 and r.json()["documents"] == 10
    assert httpx.delete(server.url + "/v1/documents/new1", headers=AUTH).status_code == 404


def test_limits_and_schema_errors_then_still_up(server):
    u = server.url
    # body size: Content-Length over the limit, and a streamed (chunked) body over it
    assert (
        httpx.post(
            u + "/v1/search", content=b"x" * 30_000, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )

    def chunks():
        yield b'{"text": "'
        for _ in range(30):
            yield b"a" * 1000
        yield b'"}'

    r = httpx.post(u + "/v1/search", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert httpx.post(u + "/v1/search", json={"texts": ["a b"] * 9}).status_code == 413
    assert httpx.post(u + "/v1/search", json={"text": "a" * 501}).status_code == 413
    assert (
        httpx.post(
            u + "/v1/score", json={"pairs": [{"text_a": "a", "text_b": "b"}] * 5}
        ).status_code
        == 413
    )
    # schema errors
    assert httpx.post(u + "/v1/search", json={"text": "a", "top_k": 21}).status_code == 422
    assert httpx.post(u + "/v1/search", json={"text": "a", "top_k": 0}).status_code == 422
    assert httpx.post(u + "/v1/search", json={"txt": "a"}).status_code == 422
    assert httpx.post(u + "/v1/search", json={"text": "a", "texts": ["b"]}).status_code == 422
    assert httpx.post(u + "/v1/score", json={"pairs": [["a"]]}).status_code == 422
    assert (
        httpx.post(
            u + "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert httpx.post(u + "/v1/documents", json={"documents": []}, headers=AUTH).status_code == 422
    assert httpx.get(u + "/health").status_code == 200


def test_metrics(server):
    httpx.get(server.url + "/health")
    text = httpx.get(server.url + "/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    labels = [(s.name, s.labels) for s in samples]
    want = {"route": "/health", "method": "GET", "status": "200"}
    assert ("pairlm_http_requests_total", want) in labels
    assert any(n == "pairlm_http_request_duration_seconds_bucket" for n, _ in labels)
    assert any(s.name == "pairlm_index_documents" and s.value == 10 for s in samples)
    statuses = {lab.get("status") for n, lab in labels if n == "pairlm_http_requests_total"}
    assert {"413", "401"} <= statuses
    assert "process_resident_memory_bytes" in text  # prometheus_client's process metrics


@pytest.mark.parametrize("flag", ["--index", "--reranker"])
def test_a_bad_path_ends_before_any_port_is_bound(tmp_path, flag):
    """A path that is no index / no saved model: one line naming it, exit 2, no listener."""
    port = free_port()
    bad = tmp_path / "no" / "such" / "dir"
    args = [sys.executable, "-c", LAUNCH, str(TINY_DIR), flag, str(bad), "--port", str(port)]
    t0 = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - t0 < 30  # the check happens before anything heavy loads
    assert done.returncode == 2, done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and flag in lines[0] and str(bad) in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "startup complete" not in done.stderr
    with socket.socket() as sock:  # nothing is listening: the port was never bound
        assert sock.connect_ex((HOST, port)) != 0


def test_a_directory_that_is_no_model_is_named(tmp_path):
    from pairlm.serve.app import preflight

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"--reranker .*empty.*not a saved pairlm model"):
        preflight(None, tmp_path / "empty")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "pairlm_model.json").write_text(
        '{"family": "no-such-family", "config": {}, "threshold": 0.5}'
    )
    with pytest.raises(ConfigError, match="unknown family 'no-such-family'"):
        preflight(None, tmp_path / "odd")
    with pytest.raises(ConfigError, match=r"--index .*empty.*not a pairlm index"):
        preflight(tmp_path / "empty", None)


def test_a_model_that_fails_to_load_is_reported_then_the_server_exits(tmp_path, tiny_reranker):
    """A valid-looking model whose weights are gone: /health says why (503), the log has
    one line and no traceback, and the process exits non-zero by itself."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_reranker, broken)
    for f in broken.iterdir():
        if f.name != "pairlm_model.json":
            f.unlink() if f.is_file() else shutil.rmtree(f)
    log = tmp_path / "log.txt"
    srv = start_server(None, log, reranker=str(broken))
    try:
        h = httpx.get(srv.url + "/health")
        assert h.status_code == 503 and h.json()["status"] == "error" and h.json()["error"]
        r = httpx.post(srv.url + "/v1/score", json={"pairs": [{"text_a": "a", "text_b": "b"}]})
        assert r.status_code == 503 and "failed to load" in r.json()["detail"]
        assert srv.proc.wait(timeout=60) == 1
    finally:
        srv.stop()
    text = log.read_text()
    assert "loading failed" in text and "Traceback" not in text


def test_503_while_loading(tmp_path):
    from fastapi import HTTPException

    from pairlm.serve.app import ServiceState

    st = ServiceState(tmp_path, None, None, ServeConfig())
    with pytest.raises(HTTPException) as e:
        st.require()
    assert e.value.status_code == 503 and "loading" in e.value.detail


def test_config_file_and_env(tmp_path, monkeypatch):
    f = tmp_path / "c.toml"
    f.write_text('[serve]\nmax_texts = 3\napi_key = "from-file"\n')
    monkeypatch.delenv("PAIRLM_API_KEY", raising=False)
    assert load_config(f).api_key == "from-file" and load_config(f).max_texts == 3
    monkeypatch.setenv("PAIRLM_API_KEY", "from-env")
    assert load_config(f).api_key == "from-env"
    f.write_text("[serve]\nmax_textz = 3\n")
    with pytest.raises(ValueError, match="max_textz"):
        load_config(f)
    with pytest.raises(ValueError, match="max_chars"):
        ServeConfig(max_chars=0)
    assert json.dumps(ServeConfig().max_body_bytes)


def test_lone_surrogates_get_a_4xx_naming_the_field_not_a_500(server):
    """JSON may carry a lone surrogate escape; it is refused, not echoed back (a 500)."""
    u = server.url
    raw = '"\\ud800 what is this?"'
    for path, body, headers in [
        ("/v1/score", '{"pairs": [{"text_a": ' + raw + ', "text_b": "b"}]}', {}),
        ("/v1/search", '{"text": ' + raw + "}", {}),
        ("/v1/documents", '{"documents": [{"id": "x", "text": ' + raw + "}]}", AUTH),
    ]:
        r = httpx.post(
            u + path, content=body.encode(), headers={"content-type": "application/json", **headers}
        )
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
        assert "\\ud800" not in r.text and "what is this" not in r.text
    big = httpx.post(u + "/v1/search", json={"txt": "y" * 1000})
    assert big.status_code == 422 and "y" * 100 not in big.text  # input not echoed
    assert httpx.get(u + "/health").status_code == 200


def test_score_only_server_without_an_index(tmp_path, tiny_reranker):
    """`pairlm serve --reranker MODEL` without --index: /v1/score works, the index routes
    say there is no index, bad input is a 4xx."""
    srv = start_server(None, tmp_path / "log.txt", reranker=tiny_reranker)
    try:
        u = srv.url
        r = httpx.post(u + "/v1/score", json={"pairs": [{"text_a": "a b", "text_b": "a b c"}]})
        assert r.status_code == 200 and len(r.json()["probabilities"]) == 1
        assert httpx.post(u + "/v1/search", json={"text": "a"}).status_code == 404
        bad = '{"pairs": [{"text_a": "\\ud800", "text_b": "b"}]}'
        r = httpx.post(
            u + "/v1/score", content=bad.encode(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        assert httpx.get(u + "/health").json()["documents"] is None
    finally:
        srv.stop()
