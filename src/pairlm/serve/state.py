"""What the service serves: the index and the reranker, loaded in a background thread at
startup; until then the `/v1` endpoints answer 503."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import HTTPException

from pairlm.serve.config import ServeConfig

if TYPE_CHECKING:
    from pairlm.search.index import CorpusIndex
    from pairlm.search.rerank import Reranker

log = logging.getLogger(__name__)


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
