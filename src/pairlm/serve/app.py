"""The HTTP service: a FastAPI app over a `CorpusIndex` and an optional reranker.

Endpoints: ``POST /v1/score``, ``POST /v1/search``, ``POST /v1/match``,
``POST /v1/documents`` and ``DELETE /v1/documents/{id}`` (both need the API key, as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY``), ``GET /health``, ``GET /metrics``.

- The index and the reranker load in a background thread at startup; until they are loaded
  the ``/v1`` endpoints answer 503 and ``/health`` says ``loading`` (503).
- Bodies larger than ``max_body_bytes`` get 413, judged on Content-Length and while the body
  streams; more texts than ``max_texts`` or a text longer than ``max_chars`` get 413;
  schema errors (and ``top_k`` out of range) get 422; a missing or wrong key gets 401.
- Index changes are durable when the request returns (`CorpusIndex.add` commits to SQLite).

Run with ``pairlm serve`` or ``python -m pairlm.serve.app --index DIR --port N``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from pairlm.errors import ConfigError, run_reporting
from pairlm.serve.config import ServeConfig, load_config
from pairlm.serve.metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from pairlm.search.index import CorpusIndex
    from pairlm.search.rerank import Reranker

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# ---------------------------------------------------------------------- schemas
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPair(_Strict):
    text_a: str
    text_b: str
    id: str | None = Field(default=None, max_length=512)
    """The caller's own id for the pair, given back with its answer."""


class ScoreRequest(_Strict):
    pairs: list[TextPair] = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class PairScore(BaseModel):
    position: int
    """The pair's 0-based position in the request."""
    id: str | None = None
    """The pair's `id`, when the request gave one."""
    probability: float
    duplicate: bool


class ScoreResponse(BaseModel):
    results: list[PairScore]
    """One answer per pair, in request order."""
    probabilities: list[float]
    duplicates: list[bool]
    threshold: float
    model: str


class SearchRequest(_Strict):
    text: str | None = None
    texts: list[str] | None = None
    top_k: int | None = Field(default=None, ge=1)
    rerank: bool = True
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    min_score: float | None = Field(default=None, ge=-1.0, le=1.0)


class HitOut(BaseModel):
    id: str
    text: str
    score: float
    probability: float | None = None


class SearchResult(BaseModel):
    query: str
    hits: list[HitOut]


class SearchResponse(BaseModel):
    results: list[SearchResult]
    reranked: bool


class Document(_Strict):
    id: str = Field(min_length=1, max_length=512)
    text: str = Field(min_length=1)


class MatchRequest(_Strict):
    queries: list[Document] = Field(min_length=1)
    candidates: list[Document] | None = None
    """Omitted: match the queries against the documents of the index."""
    top_k: int | None = Field(default=None, ge=1)
    pool: Literal["max", "mean"] = "max"
    top_n: int = Field(default=2, ge=1, le=100)
    """With `pool="mean"`: the best document pairs averaged (`pairlm match --top-n`)."""
    rerank: bool = False


class MatchOut(BaseModel):
    candidate_id: str
    rank: int
    score: float
    passage: str
    probability: float | None = None


class MatchResult(BaseModel):
    query_id: str
    matches: list[MatchOut]


class MatchResponse(BaseModel):
    results: list[MatchResult]


class DocumentsRequest(_Strict):
    documents: list[Document] = Field(min_length=1)


class DocumentsResponse(BaseModel):
    added: int
    documents: int


class DeleteResponse(BaseModel):
    deleted: str
    documents: int


class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "error"]
    ready: bool
    documents: int | None = None
    index_type: str | None = None
    encoder: str | None = None
    reranker: str | None = None
    error: str | None = None


# ---------------------------------------------------------------------- state
class ServiceState:
    """What the app serves; filled by the background loader."""

    def __init__(
        self,
        index_dir: Path | None,
        reranker_dir: Path | None,
        encoder: str | None,
        config: ServeConfig,
    ) -> None:
        self.index_dir = index_dir
        self.reranker_dir = reranker_dir
        self.encoder = encoder
        self.config = config
        self.index: CorpusIndex | None = None
        self.reranker: Reranker | None = None
        self.ready = threading.Event()
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        self.on_failure: Callable[[], None] | None = None
        """Called once, from the loader thread, after loading failed (`serve` stops then)."""

    def load(self) -> None:
        try:
            from pairlm.search.index import CorpusIndex

            t0 = time.perf_counter()
            index = None
            if self.index_dir is not None:
                index = CorpusIndex.open(self.index_dir, encoder=self.encoder)
                index.encode(["warm up"])
            if self.reranker_dir is not None:
                from pairlm.search.rerank import Reranker

                self.reranker = Reranker(self.reranker_dir, self.config.reranker_threshold)
            self.index = index
            self.ready.set()
            log.info(
                "service ready: %s, %.1fs",
                f"{len(index)} documents" if index is not None else "no index (scoring only)",
                time.perf_counter() - t0,
            )
        except Exception as e:  # reported by /health and 503s, then `on_failure`
            self.error = f"{type(e).__name__}: {e}"
            # One line; the traceback only with -v (debug logging).
            log.error("loading failed: %s", self.error, exc_info=log.isEnabledFor(logging.DEBUG))
            if self.on_failure is not None:
                self.on_failure()

    def start(self) -> None:
        self.thread = threading.Thread(target=self.load, name="pairlm-loader", daemon=True)
        self.thread.start()

    def require_loaded(self) -> None:
        if self.error:
            raise HTTPException(503, f"service failed to load: {self.error}")
        if not self.ready.is_set():
            raise HTTPException(
                503, "model and index are loading; retry shortly", headers={"Retry-After": "2"}
            )

    def require(self) -> CorpusIndex:
        """The index, once loaded; 404 when the server runs without one."""
        self.require_loaded()
        if self.index is None:
            raise HTTPException(
                404,
                "this server has no index (started without --index): only /v1/score is available",
            )
        return self.index


# ---------------------------------------------------------------------- middleware
async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for bodies above the limit: on Content-Length, and counted while streaming."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    await _send_json(send, 400, "invalid Content-Length")
                    return
                if n > self.max_bytes:
                    await _send_json(send, 413, f"request body over {self.max_bytes} bytes")
                    return
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            if len(body) > self.max_bytes:
                await _send_json(send, 413, f"request body over {self.max_bytes} bytes")
                return
            if not msg.get("more_body", False):
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class MetricsMiddleware:
    """Counts requests by route template/method/status and times them."""

    def __init__(self, app: Any, metrics: Metrics, fastapi_app: FastAPI) -> None:
        self.app = app
        self.metrics = metrics
        self.fastapi_app = fastapi_app

    def _route(self, scope: Scope) -> str:
        from starlette.routing import Match

        for route in self.fastapi_app.router.routes:
            m, _ = route.matches(scope)
            if m != Match.NONE:
                return getattr(route, "path", "other")
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_wrapper(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
            await send(msg)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.observe(
                self._route(scope), scope.get("method", ""), status, time.perf_counter() - t0
            )


# ---------------------------------------------------------------------- app
def create_app(
    index_dir: str | Path | None = None,
    *,
    reranker_dir: str | Path | None = None,
    encoder: str | None = None,
    config: ServeConfig | None = None,
) -> FastAPI:
    """Build the app; the index and reranker load in the background when it starts."""
    cfg = config or load_config()
    if index_dir is None and reranker_dir is None:
        raise ValueError("the service needs an index (--index), a pair model (--reranker), or both")
    state = ServiceState(
        Path(index_dir) if index_dir else None,
        Path(reranker_dir) if reranker_dir else None,
        encoder,
        cfg,
    )
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        state.start()
        yield
        if state.thread is not None:
            state.thread.join(timeout=60)
        if state.index is not None:
            state.index.close()

    app = FastAPI(title="pairlm", version="1", lifespan=lifespan)
    app.state.pairlm = state

    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field and what is wrong, never echoing the input (which can
        be a megabyte, or hold a lone surrogate that cannot be encoded back)."""
        errors = [
            {
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg", "invalid")).encode("utf-8", "replace").decode("utf-8"),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.state.metrics = metrics

    def check_limits(texts: list[str]) -> None:
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

    def top_k(k: int | None) -> int:
        k = cfg.default_top_k if k is None else k
        if k > cfg.max_top_k:
            raise HTTPException(422, f"top_k {k} is over the limit of {cfg.max_top_k}")
        return k

    def require_key(request: Request) -> None:
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

    @app.get("/health", response_model=HealthResponse)
    def health() -> JSONResponse:
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

    @app.get("/metrics")
    def metrics_endpoint() -> PlainTextResponse:
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

    @app.post("/v1/score", response_model=ScoreResponse)
    def score(req: ScoreRequest) -> ScoreResponse:
        check_limits([t for p in req.pairs for t in (p.text_a, p.text_b)])
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

    @app.post("/v1/search", response_model=SearchResponse)
    def search(req: SearchRequest) -> SearchResponse:
        if (req.text is None) == (req.texts is None):
            raise HTTPException(422, "give exactly one of 'text' or 'texts'")
        texts = [req.text] if req.text is not None else list(req.texts or [])
        if not texts:
            raise HTTPException(422, "'texts' is empty")
        check_limits(texts)
        k = top_k(req.top_k)
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

    @app.post("/v1/match", response_model=MatchResponse)
    def match_endpoint(req: MatchRequest) -> MatchResponse:
        check_limits([d.text for d in req.queries] + [d.text for d in req.candidates or []])
        k = top_k(req.top_k)
        index = state.require()
        rr = state.reranker if req.rerank else None
        if req.rerank and rr is None:
            raise HTTPException(501, "no pair model loaded: start the server with --reranker DIR")
        from pairlm.search.matching import match

        try:  # a ValueError here is the request's (an id given twice)
            if req.candidates is not None:
                res = match(
                    [q.id for q in req.queries],
                    [q.text for q in req.queries],
                    [c.id for c in req.candidates],
                    [c.text for c in req.candidates],
                    encoder=index.encoder,
                    k=k,
                    pool=req.pool,
                    top_n=req.top_n,
                    max_words=cfg.match_max_words,
                    overlap=cfg.match_overlap,
                    reranker=rr,
                    show_progress=False,
                )
            else:
                res = _match_index(index, req, k, cfg, rr)
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

    @app.post(
        "/v1/documents", response_model=DocumentsResponse, dependencies=[Depends(require_key)]
    )
    def add_documents(req: DocumentsRequest) -> DocumentsResponse:
        check_limits([d.text for d in req.documents])
        index = state.require()
        n = index.add([d.id for d in req.documents], [d.text for d in req.documents])
        return DocumentsResponse(added=n, documents=len(index))

    @app.delete(
        "/v1/documents/{doc_id}", response_model=DeleteResponse, dependencies=[Depends(require_key)]
    )
    def delete_document(doc_id: str) -> DeleteResponse:
        index = state.require()
        if index.delete([doc_id]) == 0:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return DeleteResponse(deleted=doc_id, documents=len(index))

    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics, fastapi_app=app)
    return app


def _match_index(
    index: CorpusIndex, req: MatchRequest, k: int, cfg: ServeConfig, rr: Reranker | None
) -> dict[str, list[Any]]:
    """Match each query (split into passages) against the index documents (`match_index`)."""
    from pairlm.search.matching import match_index

    return match_index(
        index,
        [q.id for q in req.queries],
        [q.text for q in req.queries],
        k=k,
        pool=req.pool,
        top_n=req.top_n,
        max_words=cfg.match_max_words,
        overlap=cfg.match_overlap,
        reranker=rr,
    )


def serve(
    index_dir: str | Path | None = None,
    *,
    reranker_dir: str | Path | None = None,
    encoder: str | None = None,
    config: ServeConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
) -> int:
    """Run the service with uvicorn until interrupted: 0 then, 1 when loading failed (after
    `/health` has said why for `LOAD_FAILURE_GRACE_S` seconds)."""
    import uvicorn

    preflight(index_dir, reranker_dir)
    app = create_app(index_dir, reranker_dir=reranker_dir, encoder=encoder, config=config)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)
    )
    state: ServiceState = app.state.pairlm

    def stop_later() -> None:
        t = threading.Timer(LOAD_FAILURE_GRACE_S, lambda: setattr(server, "should_exit", True))
        t.daemon = True
        t.start()

    state.on_failure = stop_later
    server.run()
    if state.error:
        log.error("pairlm serve: stopped, the model or index failed to load: %s", state.error)
        return 1
    return 0


LOAD_FAILURE_GRACE_S = 5.0
"""How long a server whose model or index failed to load keeps answering `/health` (with the
reason) before it exits non-zero."""


def preflight(index_dir: str | Path | None, reranker_dir: str | Path | None) -> None:
    """Check every path before a port is bound: the index is a pairlm index of a supported
    format, the reranker a saved pairlm model of a known family. Raises ConfigError naming
    the flag and the path."""
    from pairlm.models.registry import check_saved_model
    from pairlm.search.index import CorpusIndex, CorpusIndexError

    try:
        if index_dir is not None:
            CorpusIndex.inspect(index_dir)
    except (FileNotFoundError, CorpusIndexError) as e:
        raise ConfigError(f"--index {index_dir}: {e}") from None
    try:
        if reranker_dir is not None:
            check_saved_model(reranker_dir)
    except (FileNotFoundError, ConfigError) as e:
        raise ConfigError(f"--reranker {reranker_dir}: {e}") from None


def serve_from_args(args: argparse.Namespace, log_level: str = "info") -> int:
    """Run the service the parsed options (`config.add_serve_arguments`) describe: 2 with a
    one-line error when a path is wrong (before any port is bound), 1 when loading failed."""
    if not args.index and not args.reranker:
        raise SystemExit("error: pairlm serve needs --index, --reranker, or both")
    return serve(
        args.index,
        reranker_dir=args.reranker,
        encoder=args.encoder,
        config=load_config(args.config),
        host=args.host,
        port=args.port,
        log_level=log_level,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m pairlm.serve.app [--index DIR] [--reranker DIR] [--port N]``."""
    from pairlm.serve.config import add_serve_arguments

    ap = argparse.ArgumentParser(prog="pairlm-serve", description="Run the pairlm HTTP service.")
    add_serve_arguments(ap)
    ap.add_argument("--log-level", default="info")
    a = ap.parse_args(argv)
    logging.basicConfig(
        level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run_reporting((ConfigError,), serve_from_args, a, a.log_level)


if __name__ == "__main__":
    raise SystemExit(main())
