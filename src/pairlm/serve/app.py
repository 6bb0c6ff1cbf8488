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

The app is put together here (`create_app`) from its parts: the request and response models
(`schemas`), what it serves (`state.ServiceState`), the middleware (`middleware`) and the
routes (`routes`, one router per concern).

Run with ``pairlm serve`` or ``python -m pairlm.serve.app --index DIR --port N``.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pairlm.errors import ConfigError, run_reporting
from pairlm.serve.config import ServeConfig, load_config
from pairlm.serve.metrics import Metrics
from pairlm.serve.middleware import BodyLimitMiddleware, MetricsMiddleware
from pairlm.serve.routes import ROUTERS
from pairlm.serve.state import ServiceState

__all__ = ["ServiceState", "create_app", "main", "preflight", "serve", "serve_from_args"]

log = logging.getLogger(__name__)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field and what is wrong, never echoing the input (which can
    be a megabyte, or hold a lone surrogate that cannot be encoded back)."""
    assert isinstance(exc, RequestValidationError)  # the one type it is registered for
    errors = [
        {
            "loc": [str(x) for x in e.get("loc", ())],
            "msg": str(e.get("msg", "invalid")).encode("utf-8", "replace").decode("utf-8"),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


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
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        if state.thread is not None:
            state.thread.join(timeout=60)
        if state.index is not None:
            state.index.close()

    app = FastAPI(title="pairlm", version="1", lifespan=lifespan)
    app.state.pairlm = state
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, _invalid)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes)
    # the metrics' route templates: the app's own (documentation) routes, then the routers'
    templates = [r for r in app.router.routes if hasattr(r, "path")]
    templates += [r for router in ROUTERS for r in router.routes]
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=templates)
    return app


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
