"""The service's routes, one `APIRouter` per concern: `status` (``/health``, ``/metrics``),
`scoring` (``/v1/score``), `retrieval` (``/v1/search``, ``/v1/match``) and `documents`
(``/v1/documents``). `ROUTERS` lists them in the order `app.create_app` includes them.

A route reaches what the service serves through the `current_state` dependency (the app's
``app.state.pairlm``, a `ServiceState`) and the request metrics through `current_metrics`,
so a router can be tested alone: mount it on a bare `FastAPI()` whose ``state.pairlm`` is a
`ServiceState` (or override the dependency).
"""

from __future__ import annotations

import hmac
import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute

from pairlm.serve.config import ServeConfig
from pairlm.serve.metrics import CONTENT_TYPE, Metrics
from pairlm.serve.schemas import (
    DeleteResponse,
    DocumentsRequest,
    DocumentsResponse,
    HealthResponse,
    HitOut,
    MatchOut,
    MatchRequest,
    MatchResponse,
    MatchResult,
    PairScore,
    ScoreRequest,
    ScoreResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
)
from pairlm.serve.state import ServiceState


# ---------------------------------------------------------------------- dependencies
async def current_state(request: Request) -> ServiceState:
    """The `ServiceState` the app serves (``app.state.pairlm``)."""
    state: ServiceState = request.app.state.pairlm
    return state


async def current_metrics(request: Request) -> Metrics:
    """The app's request metrics (``app.state.metrics``)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


State = Annotated[ServiceState, Depends(current_state)]


def check_limits(cfg: ServeConfig, texts: list[str]) -> None:
    """413 for more texts than `max_texts` or a text over `max_chars`; 422 for an empty text
    or one that is not valid Unicode."""
    if len(texts) > cfg.max_texts:
        raise HTTPException(
            413,
            f"{len(texts)} texts in one request (a pair counts as two); the limit is "
            f"{cfg.max_texts} texts (max_texts)",
        )
    for i, t in enumerate(texts):
        if len(t) > cfg.max_chars:
            raise HTTPException(
                413, f"text {i} has {len(t)} characters; the limit is {cfg.max_chars}"
            )
        if not t.strip():
            raise HTTPException(422, f"text {i} is empty")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as e:
            raise HTTPException(
                422, f"text {i} is not valid Unicode: a lone surrogate at character {e.start}"
            ) from None


def top_k(cfg: ServeConfig, k: int | None) -> int:
    """The request's `top_k` (default `default_top_k`); 422 above `max_top_k`."""
    k = cfg.default_top_k if k is None else k
    if k > cfg.max_top_k:
        raise HTTPException(422, f"top_k {k} is over the limit of {cfg.max_top_k}")
    return k


def require_key(request: Request, state: State) -> None:
    """401 unless the request carries the configured API key (``Authorization: Bearer KEY``
    or ``X-API-Key: KEY``); always 401 when the server has none."""
    cfg = state.config
    if cfg.api_key is None:
        raise HTTPException(
            401,
            "this server has no API key configured (set PAIRLM_API_KEY); "
            "index changes are disabled",
        )
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    given = given or request.headers.get("x-api-key")
    if not given or not hmac.compare_digest(given.encode(), cfg.api_key.encode()):
        raise HTTPException(
            401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )


# ---------------------------------------------------------------------- status
status = APIRouter()


@status.get("/health", response_model=HealthResponse)
def health(state: State) -> JSONResponse:
    """`status` (`ok`, `loading`, `error`), `ready`, the index's size and type, the encoder,
    the reranker, the load error."""
    idx = state.index
    body = HealthResponse(
        status="error" if state.error else ("ok" if state.ready.is_set() else "loading"),
        ready=state.ready.is_set(),
        documents=len(idx) if idx is not None else None,
        index_type=idx.index_type if idx is not None else None,
        encoder=idx.meta["encoder_name"] if idx is not None else None,
        reranker=state.reranker.family if state.reranker is not None else None,
        error=state.error,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@status.get("/metrics")
def metrics_endpoint(
    state: State, metrics: Annotated[Metrics, Depends(current_metrics)]
) -> PlainTextResponse:
    """Prometheus metrics."""
    idx = state.index
    metrics.set_gauge(
        "pairlm_ready",
        1.0 if state.ready.is_set() else 0.0,
        "1 when the model and index are loaded",
    )
    if idx is not None:
        metrics.set_gauge("pairlm_index_documents", len(idx), "documents in the index")
        metrics.set_gauge(
            "pairlm_index_faiss_vectors",
            idx.info()["faiss_vectors"],
            "vectors in the FAISS index (including tombstones)",
        )
    return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)


# ---------------------------------------------------------------------- scoring
scoring = APIRouter()


@scoring.post("/v1/score", response_model=ScoreResponse)
def score(req: ScoreRequest, state: State) -> ScoreResponse:
    """P(duplicate) of each pair: `{"pairs": [{"id": "q1", "text_a": "...", "text_b": "..."}],
    "threshold": 0.5}` (`id` and `threshold` optional); each answer in request order with its
    `position`, the `id` when given, `probability` and `duplicate`.

    Needs: `--reranker`"""
    check_limits(state.config, [t for p in req.pairs for t in (p.text_a, p.text_b)])
    state.require_loaded()
    if state.reranker is None:
        raise HTTPException(501, "no pair model loaded: start the server with --reranker DIR")
    rr = state.reranker
    p = rr.score([x.text_a for x in req.pairs], [x.text_b for x in req.pairs])
    thr = rr.threshold if req.threshold is None else req.threshold
    probs = [float(v) for v in p]
    return ScoreResponse(
        results=[
            PairScore(position=i, id=x.id, probability=v, duplicate=v >= thr)
            for i, (x, v) in enumerate(zip(req.pairs, probs))
        ],
        probabilities=probs,
        duplicates=[v >= thr for v in probs],
        threshold=thr,
        model=rr.family,
    )


# ---------------------------------------------------------------------- retrieval
retrieval = APIRouter()


@retrieval.post("/v1/search", response_model=SearchResponse)
def search(req: SearchRequest, state: State) -> SearchResponse:
    """Nearest documents of `text` (or each of `texts`): `top_k`, `rerank` (score the hits
    with the reranker and drop those under the threshold), `threshold`, `min_score`.

    Needs: `--index`"""
    if (req.text is None) == (req.texts is None):
        raise HTTPException(422, "give exactly one of 'text' or 'texts'")
    texts = [req.text] if req.text is not None else list(req.texts or [])
    if not texts:
        raise HTTPException(422, "'texts' is empty")
    check_limits(state.config, texts)
    k = top_k(state.config, req.top_k)
    index = state.require()
    from pairlm.search.rerank import search_and_rerank

    rr = state.reranker if req.rerank else None
    res = search_and_rerank(
        index, texts, k=k, reranker=rr, threshold=req.threshold, min_score=req.min_score
    )
    return SearchResponse(
        results=[
            SearchResult(
                query=q,
                hits=[
                    HitOut(id=h.doc_id, text=h.text, score=h.score, probability=h.probability)
                    for h in hits
                ],
            )
            for q, hits in zip(texts, res)
        ],
        reranked=rr is not None,
    )


@retrieval.post("/v1/match", response_model=MatchResponse)
def match_endpoint(req: MatchRequest, state: State) -> MatchResponse:
    """The best candidates for each query, documents split into passages: `queries`,
    `candidates` (omitted: the index's documents), `top_k`, `pool` (`"max"` or `"mean"`),
    `top_n`, `rerank` ([matching](search.md#matching)).

    Needs: `--index`"""
    cfg = state.config
    check_limits(cfg, [d.text for d in req.queries] + [d.text for d in req.candidates or []])
    k = top_k(cfg, req.top_k)
    index = state.require()
    rr = state.reranker if req.rerank else None
    if req.rerank and rr is None:
        raise HTTPException(501, "no pair model loaded: start the server with --reranker DIR")
    from pairlm.search.matching import match, match_index

    shared: dict[str, Any] = {
        "k": k,
        "pool": req.pool,
        "top_n": req.top_n,
        "max_words": cfg.match_max_words,
        "overlap": cfg.match_overlap,
        "reranker": rr,
    }
    query_ids, query_texts = [q.id for q in req.queries], [q.text for q in req.queries]
    try:  # a ValueError here is the request's (an id given twice)
        if req.candidates is not None:
            res = match(
                query_ids,
                query_texts,
                [c.id for c in req.candidates],
                [c.text for c in req.candidates],
                encoder=index.encoder,
                show_progress=False,
                **shared,
            )
        else:  # each query split into passages, against the index's documents
            res = match_index(index, query_ids, query_texts, **shared)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return MatchResponse(
        results=[
            MatchResult(
                query_id=qid,
                matches=[
                    MatchOut(
                        candidate_id=m.candidate_id,
                        rank=m.rank,
                        score=m.score,
                        passage=m.passage,
                        probability=m.probability,
                    )
                    for m in ms
                ],
            )
            for qid, ms in res.items()
        ]
    )


# ---------------------------------------------------------------------- documents
documents = APIRouter(dependencies=[Depends(require_key)])


@documents.post("/v1/documents", response_model=DocumentsResponse)
def add_documents(req: DocumentsRequest, state: State) -> DocumentsResponse:
    """Add `{"documents": [{"id": "...", "text": "..."}]}` to the index (durable when the
    request returns).

    Needs: `--index`, the API key"""
    check_limits(state.config, [d.text for d in req.documents])
    index = state.require()
    n = index.add([d.id for d in req.documents], [d.text for d in req.documents])
    return DocumentsResponse(added=n, documents=len(index))


@documents.delete("/v1/documents/{doc_id}", response_model=DeleteResponse)
def delete_document(doc_id: str, state: State) -> DeleteResponse:
    """Delete a document.

    Needs: `--index`, the API key"""
    index = state.require()
    if index.delete([doc_id]) == 0:
        raise HTTPException(404, f"no document with id {doc_id!r}")
    return DeleteResponse(deleted=doc_id, documents=len(index))


ROUTERS = (status, scoring, retrieval, documents)
"""Every router, in the order the app includes them (the order of its routes)."""

ORDER = ("/v1/score", "/v1/search", "/v1/match", "/v1/documents", "/health", "/metrics")
"""The endpoints table's order in `docs/service.md` (the API first); routes not named here
follow in `ROUTERS` order."""


def endpoint_rows() -> list[tuple[str, str, str]]:
    """(`METHOD /path`, what it does, what it needs) of every route, from the route
    functions' docstrings (first paragraph; a "Needs:" line), for the service page's table
    (`pairlm.report.docs`)."""
    rows = []
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            doc = inspect.cleandoc(route.endpoint.__doc__ or "")
            paras = doc.split("\n\n")
            what = " ".join(paras[0].split())
            needs = next(
                (p.removeprefix("Needs:").strip() for p in paras if p.startswith("Needs:")), ""
            )
            for method in sorted(route.methods or ()):
                rows.append((f"{method} {route.path}", what, needs))

    def key(r: tuple[str, str, str]) -> int:
        path = r[0].split(" ", 1)[1]
        return next((i for i, p in enumerate(ORDER) if path.startswith(p)), len(ORDER))

    return sorted(rows, key=key)
