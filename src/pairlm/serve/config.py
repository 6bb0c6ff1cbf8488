"""Service settings: limits with safe defaults, the API key, read from a TOML file and the
environment.

A config file (``--config FILE``) holds a ``[serve]`` table with any of the fields of
`ServeConfig`; the API key comes from ``api_key`` there or, taking precedence, from the
environment variable ``PAIRLM_API_KEY``. Without a key, the endpoints that change the index
answer 401 to every request (they are never open by default).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pairlm.configfile import check_fields, from_table, rule
from pairlm.errors import ConfigError

API_KEY_ENV = "PAIRLM_API_KEY"


def _positive(v: int) -> bool:
    return v > 0


_POSITIVE = rule("a positive integer", _positive)


@dataclass
class ServeConfig:
    """Limits and settings of `pairlm serve`."""

    table: ClassVar[str] = "[serve]"

    max_texts: int = field(default=64, metadata=_POSITIVE)
    """Texts per request, whatever carries them: a /v1/score pair is two texts (so 32 pairs),
    a /v1/search query one, a /v1/match query or candidate one, a /v1/documents document one."""
    max_chars: int = field(default=10_000, metadata=_POSITIVE)
    """Characters per text."""
    max_top_k: int = field(default=100, metadata=_POSITIVE)
    """Largest `top_k` a request may ask for (more: 422)."""
    max_body_bytes: int = field(default=1_000_000, metadata=_POSITIVE)
    """Request bodies above this size get 413 (checked on Content-Length and while streaming)."""
    default_top_k: int = field(default=10, metadata=_POSITIVE)
    """`top_k` of a /v1/search or /v1/match request that gives none."""
    api_key: str | None = field(default=None, metadata=rule("a string"))
    """Key the index-changing endpoints require (`Authorization: Bearer KEY` or
    `X-API-Key`); PAIRLM_API_KEY takes precedence. None: those endpoints answer 401."""
    reranker_threshold: float | None = field(
        default=None, metadata=rule("a number in [0, 1]", lambda t: 0 <= t <= 1)
    )
    """Overrides the reranker's learned threshold when set."""
    match_max_words: int = field(default=160, metadata=_POSITIVE)
    """/v1/match: each document (query or candidate) is split into passages of at most this
    many words."""
    match_overlap: int = field(default=32, metadata=rule("an integer >= 0", lambda v: v >= 0))
    """/v1/match: words shared by consecutive passages of a document (0: none)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.default_top_k > self.max_top_k:
            raise ConfigError(
                "`default_top_k` must be <= max_top_k", section=self.table, key="default_top_k"
            )
        if self.api_key == "":
            self.api_key = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str | None = None) -> ServeConfig:
        return from_table(cls, data, file=file, section=cls.table)


def load_config(path: str | Path | None = None, **overrides: Any) -> ServeConfig:
    """Read ``[serve]`` from a TOML file (if given), apply `overrides` (None values ignored),
    then take the API key from ``PAIRLM_API_KEY`` when set."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read serve config {p}: {e}") from e
        data = dict(doc.get("serve", {}))
    data.update({k: v for k, v in overrides.items() if v is not None})
    env_key = os.environ.get(API_KEY_ENV)
    if env_key:
        data["api_key"] = env_key
    return ServeConfig.from_dict(data, str(path) if path is not None else None)


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
