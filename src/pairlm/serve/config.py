"""Service settings: limits with safe defaults, the API key, read from a TOML file and the
environment.

A config file (``--config FILE``) holds a ``[serve]`` table with any of the fields of
`ServeConfig`; the API key comes from ``api_key`` there or, taking precedence, from the
environment variable ``PAIRLM_API_KEY``. Without a key, the endpoints that change the index
answer 401 to every request (they are never open by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_KEY_ENV = "PAIRLM_API_KEY"


@dataclass
class ServeConfig:
    """Limits and settings of `pairlm serve`."""

    max_texts: int = 64
    """Texts per request, whatever carries them: a /v1/score pair is two texts (so 32 pairs),
    a /v1/search query one, a /v1/match query or candidate one, a /v1/documents document one."""
    max_chars: int = 10_000
    """Characters per text."""
    max_top_k: int = 100
    """Largest `top_k` a request may ask for (more: 422)."""
    max_body_bytes: int = 1_000_000
    """Request bodies above this size get 413 (checked on Content-Length and while streaming)."""
    default_top_k: int = 10
    """`top_k` of a /v1/search or /v1/match request that gives none."""
    api_key: str | None = None
    """Key the index-changing endpoints require (`Authorization: Bearer KEY` or
    `X-API-Key`); PAIRLM_API_KEY takes precedence. None: those endpoints answer 401."""
    reranker_threshold: float | None = None
    """Overrides the reranker's learned threshold when set."""
    match_max_words: int = 160
    """/v1/match: each document (query or candidate) is split into passages of at most this
    many words."""
    match_overlap: int = 32
    """/v1/match: words shared by consecutive passages of a document (0: none)."""

    def __post_init__(self) -> None:
        for name in (
            "max_texts",
            "max_chars",
            "max_top_k",
            "max_body_bytes",
            "default_top_k",
            "match_max_words",
            "match_overlap",
        ):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, int)
                or v < 0
                or (v == 0 and name != "match_overlap")
            ):
                raise ValueError(f"serve config {name} must be a positive integer, got {v!r}")
        if self.default_top_k > self.max_top_k:
            raise ValueError("serve config default_top_k must be <= max_top_k")
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise ValueError("serve config api_key must be a string")
        if self.api_key == "":
            self.api_key = None
        t = self.reranker_threshold
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1
        ):
            raise ValueError(f"serve config reranker_threshold must be in [0, 1], got {t!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServeConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown serve config key(s): {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        return cls(**data)


def load_config(path: str | Path | None = None, **overrides: Any) -> ServeConfig:
    """Read ``[serve]`` from a TOML file (if given), apply `overrides` (None values ignored),
    then take the API key from ``PAIRLM_API_KEY`` when set."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"cannot read serve config {p}: {e}") from e
        data = dict(doc.get("serve", {}))
    data.update({k: v for k, v in overrides.items() if v is not None})
    env_key = os.environ.get(API_KEY_ENV)
    if env_key:
        data["api_key"] = env_key
    return ServeConfig.from_dict(data)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """The service's options, shared by `pairlm serve` and `python -m pairlm.serve.app`."""
    p.add_argument(
        "--index", help="corpus index for /v1/search, /v1/match and /v1/documents (optional)"
    )
    p.add_argument("--reranker", help="saved pairlm model for /v1/score and reranking")
    p.add_argument("--encoder", help="the encoder the index was built with (checked)")
    p.add_argument("--config", help="TOML file with a [serve] table (limits, api_key)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
