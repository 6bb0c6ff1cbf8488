"""pairlm.serve: the HTTP service (FastAPI on uvicorn). See `pairlm.serve.app`."""

from __future__ import annotations

from typing import Any

__all__ = ["ServeConfig", "create_app", "load_config", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve"):
        from pairlm.serve import app

        return getattr(app, name)
    if name in ("ServeConfig", "load_config"):
        from pairlm.serve import config

        return getattr(config, name)
    raise AttributeError(f"module 'pairlm.serve' has no attribute {name!r}")
