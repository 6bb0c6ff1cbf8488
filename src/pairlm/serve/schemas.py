"""The service's request and response bodies (pydantic models): strict requests (an unknown
field is a 422), one response model per endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
