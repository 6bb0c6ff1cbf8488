"""Each router of the service alone (`pairlm.serve.routes`), on a bare FastAPI app with a
`ServiceState` of its own: no server process, no background loading."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from conftest import API_KEY
from pairlm.serve import routes
from pairlm.serve.config import ServeConfig
from pairlm.serve.metrics import Metrics
from pairlm.serve.state import ServiceState


class _Reranker:
    """P(duplicate) 1 for equal texts, else 0.25."""

    family = "fake"
    threshold = 0.5

    def score(self, a: list[str], b: list[str]) -> np.ndarray:
        return np.array([1.0 if x == y else 0.25 for x, y in zip(a, b)])


def _client(router: APIRouter, state: ServiceState) -> TestClient:
    app = FastAPI()
    app.state.pairlm = state
    app.state.metrics = Metrics()
    app.include_router(router)
    return TestClient(app)


def _state(index: Any = None, reranker: Any = None, **cfg: Any) -> ServiceState:
    st = ServiceState(None, None, None, ServeConfig(**cfg))
    st.index, st.reranker = index, reranker
    st.ready.set()
    return st


def test_scoring_router_alone() -> None:
    c = _client(routes.scoring, _state(reranker=_Reranker()))
    r = c.post("/v1/score", json={"pairs": [{"text_a": "a", "text_b": "a", "id": "x"}]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [
        {"position": 0, "id": "x", "probability": 1.0, "duplicate": True}
    ]
    c = _client(routes.scoring, _state(reranker=_Reranker(), max_texts=1))
    assert c.post("/v1/score", json={"pairs": [{"text_a": "a", "text_b": "b"}]}).status_code == 413
    assert _client(routes.scoring, _state()).post(
        "/v1/score", json={"pairs": [{"text_a": "a", "text_b": "b"}]}
    ).status_code == 501  # fmt: skip


def test_status_router_alone_says_loading() -> None:
    st = ServiceState(None, None, None, ServeConfig())
    c = _client(routes.status, st)
    r = c.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "loading"
    assert "pairlm_ready 0" in c.get("/metrics").text


def test_documents_router_alone_needs_the_key() -> None:
    doc = {"documents": [{"id": "d", "text": "t"}]}
    c = _client(routes.documents, _state(api_key=API_KEY))
    assert c.post("/v1/documents", json=doc).status_code == 401
    r = c.post("/v1/documents", json=doc, headers={"X-API-Key": API_KEY})
    assert r.status_code == 404  # the key is right; this state has no index
    c = _client(routes.documents, _state())
    assert "no API key configured" in c.delete("/v1/documents/d").json()["detail"]


LONG = (
    "my dog would like a new blue car. " * 2 + "how do i learn python. " + "the sky is blue. " * 3
)


@pytest.fixture()
def long_doc_index(tmp_path: Path, tiny_encoder: str) -> Iterator[Any]:
    import tinyparts

    from pairlm.search.index import CorpusIndex

    docs = {**tinyparts.DOCS, "long": LONG}
    idx = CorpusIndex.build(tmp_path / "i", list(docs), list(docs.values()), encoder=tiny_encoder)
    try:
        yield idx
    finally:
        idx.close()


def test_match_against_the_index_names_the_best_passage(long_doc_index: Any) -> None:
    """Issue 43: /v1/match against the index names the best passage of a long document (it
    named the whole document), as it does with candidates in the request."""
    c = _client(routes.retrieval, _state(index=long_doc_index, match_max_words=8, match_overlap=0))
    q = {"queries": [{"id": "q", "text": "how do i learn python"}], "top_k": 20}
    r = c.post("/v1/match", json=q)
    assert r.status_code == 200, r.text
    ms = {m["candidate_id"]: m for m in r.json()["results"][0]["matches"]}
    assert len(ms) == 11 and ms["d1"]["passage"] == "how do i learn python"
    assert ms["long"]["passage"] == "how do i learn python."
    q["candidates"] = [{"id": "long", "text": LONG}]
    r = c.post("/v1/match", json=q)
    assert r.json()["results"][0]["matches"][0]["passage"] == "how do i learn python."
